"""Deep links to every role's start page, in headless Chromium against a real Streamlit
server (issue 19, item 9): ``/live?store=s1`` for a store manager or regional lead and
``/executive`` for an executive or admin used to say "Page not found", because the start
page was served at "/" only. Opened signed out, after sign-in, and after a reload."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard.harness import (
    CHROMIUM_ARGS,
    StreamlitServer,
    browser_dashboard_files,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 60_000
SHOTS = Path("/tmp/shots/engineer-c")
USERS = {
    "mia": ("store_manager", "s1"),
    "rex": ("regional_lead", None),
    "eve": ("executive", None),
    "ada": ("admin", None),
}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) not installed")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(dashboard_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("deep-links")
    db, home, secrets = browser_dashboard_files(root, dashboard_db_master, ["s1-entrance"], USERS)
    # The regional lead's region (browser_dashboard_files writes a store only).
    text = secrets.read_text().replace("[users.rex]\n", '[users.rex]\nregion = "north"\n')
    secrets.write_text(text)
    env = {"STORELENS_DB": str(db), "STORELENS_HOME": str(home), "STORELENS_DEMO": "0"}
    srv = StreamlitServer(env, secrets, root / "streamlit.log").start()
    try:
        yield srv.url
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("user", "path", "title"),
    [
        ("mia", "/live?store=s1", "Live"),
        ("rex", "/live?store=s2", "Live"),
        ("eve", "/executive", "Summary"),
        ("ada", "/executive", "Summary"),
    ],
)
def test_deep_link_to_the_start_page_opens_it(
    server: str, browser, user: str, path: str, title: str
) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(server + path)
    sign_in(page, user, f"{user}-pw")
    heading = page.get_by_role("heading", name=title, exact=True).first
    expect(heading).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.wait_for_url(f"**{path}")
    # The page's sidebar entry is the current one: the link opened the page itself.
    current = page.locator('[data-testid="stSidebarNavLink"][aria-current="page"]')
    expect(current).to_contain_text(title)

    page.reload()  # F5 on the bookmark
    expect(heading).to_be_visible()
    expect(current).to_contain_text(title)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    page.wait_for_url(f"**{path}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"deep-link-{user}.png"))

    # The bare address sends each role on to its start page, under that page's own path.
    page.goto(server + "/")
    page.wait_for_url(f"**{path.split('?')[0]}**")
    expect(heading).to_be_visible()
    expect(page.get_by_text("Page not found")).to_have_count(0)
    context.close()
