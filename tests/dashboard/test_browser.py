"""Headless Chromium against a real ``streamlit run dashboard/app.py``: sign in, live tiles
updating (MJPEG from the pipeline's TileServer, fed synthetic frames), acknowledge an
alert, change a filter, export, and a screenshot of every page into artifacts/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from storelens.dashboard.auth import hash_password

from tests.dashboard.harness import (
    CHROMIUM_ARGS,
    REPO,
    StreamlitServer,
    SyntheticTiles,
    write_services,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = REPO / "artifacts" / "dashboard"
TIMEOUT_MS = 60_000  # two shared cores: first renders can take seconds


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.fixture(scope="module")
def served(dashboard_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("browser")
    db, home = root / "dash.duckdb", root / "home"
    home.mkdir()
    db.write_bytes(dashboard_db_master.read_bytes())
    secrets = root / "secrets.toml"
    secrets.write_text(
        '[users.mia]\nrole = "store_manager"\nstore = "s1"\n'
        f'password_hash = "{hash_password("mia-pw")}"\n'
        '[users.ada]\nrole = "admin"\n'
        f'password_hash = "{hash_password("ada-pw")}"\n'
    )
    tiles = SyntheticTiles(["s1-entrance"], b"browser-test-secret", fps=12).start()
    write_services(db, "s1", ["s1-entrance"], tiles.url)
    env = {
        "STORELENS_DB": str(db),
        "STORELENS_HOME": str(home),
        "STORELENS_STREAM_SECRET": "browser-test-secret",
        "STORELENS_DEMO": "0",
    }
    server = StreamlitServer(env, secrets, root / "streamlit.log").start()
    try:
        yield {"url": server.url, "db": db, "tiles": tiles}
    finally:
        server.stop()
        tiles.stop()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) not installed")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)  # expect() has its own 5 s default
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def sign_in(page, url: str, name: str, password: str) -> None:
    page.goto(url)
    page.get_by_role("textbox", name="User name").fill(name)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNavLink"]', has_text=title).first.click()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)  # let plotly finish drawing
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def heading(page, text: str):
    return page.get_by_role("heading", name=text, exact=True).first


def test_manager_journey(served: dict, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    sign_in(page, served["url"], "mia", "wrong")
    expect(page.get_by_text("unknown user name or wrong password")).to_be_visible()
    page.get_by_role("textbox", name="Password").fill("mia-pw")
    page.get_by_role("button", name="Sign in").click()
    expect(heading(page, "Live")).to_be_visible()

    # Live tile: MJPEG read straight from the tile server by the tile script, and it changes.
    tile = page.locator('.sl-tile[data-camera="s1-entrance"]')
    expect(tile).to_have_count(1)
    page.wait_for_function(
        "() => { const t = document.querySelector('.sl-tile[data-camera=\"s1-entrance\"]');"
        " return t && Number(t.dataset.frames) > 0 && t.querySelector('img').naturalWidth > 0; }"
    )
    first = tile.locator("img").screenshot()
    page.wait_for_function(
        "() => Number(document.querySelector('.sl-tile').dataset.frames) > "
        + tile.get_attribute("data-frames")
        + " + 5"
    )
    assert tile.locator("img").screenshot() != first, "the live tile did not change"
    expect(page.get_by_text("s1-entrance: online")).to_be_visible()

    # Acknowledge the store's alert.
    expect(page.get_by_text("queue wait over 4 min at s1")).to_be_visible()
    page.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("acknowledged by mia")).to_be_visible()
    shot(page, "live")

    # Store page; change a filter and see it in the URL.
    go(page, "Store")
    expect(heading(page, "Store")).to_be_visible()
    # The week's tile first (once an opening hour has ended, today's panel has one too).
    expect(page.get_by_text("Visitors", exact=True).first).to_be_visible()
    page.get_by_role("radio", name="day", exact=True).click()
    page.wait_for_url("**granularity=day**")
    shot(page, "store")

    # Compare: only the manager's store, exported as CSV.
    go(page, "Compare stores")
    expect(heading(page, "Compare stores")).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    csv = Path(info.value.path()).read_text()
    assert csv.splitlines()[0].startswith("store_id,")
    assert [line.split(",")[0] for line in csv.splitlines()[1:]] == ["s1"]
    shot(page, "compare")

    for title, name in (("Staffing", "staffing"), ("Privacy", "privacy"), ("Summary", "summary")):
        go(page, title)
        expect(heading(page, title)).to_be_visible()
        shot(page, name)
    context.close()

    con = duckdb.connect(str(served["db"]), read_only=True)
    try:
        acked = con.execute("SELECT store_id, acknowledged_by FROM alerts ORDER BY 1").fetchall()
        viewed = con.execute("SELECT user_name, camera_id FROM live_view_log").fetchall()
    finally:
        con.close()
    assert acked == [("s1", "mia"), ("s3", None)]
    assert ("mia", "s1-entrance") in viewed


def test_admin_setup_page(served: dict, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    sign_in(page, served["url"], "ada", "ada-pw")
    expect(heading(page, "Summary")).to_be_visible()
    go(page, "Setup")
    expect(heading(page, "Setup")).to_be_visible()
    time.sleep(0.5)
    shot(page, "setup")
    context.close()
