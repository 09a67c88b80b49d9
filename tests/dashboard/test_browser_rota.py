"""Issue 22 item 2 in Chromium: a store manager opens Staffing, sees tomorrow's rota for
their store only, and downloads it as a shift-import CSV that is the data layer's rota.

The dashboard's clock is fixed through ``STORELENS_NOW`` so "tomorrow" sits inside the
seeded demo history's 14-day forecast horizon on any day the test runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from storelens.data.demo import seed_demo
from storelens.data.kpi import Scope
from storelens.data.reader import LocalReader
from storelens.data.rota import CSV_COLUMNS, plan_rota

from tests.dashboard.harness import CHROMIUM_ARGS, StreamlitServer, browser_dashboard_files

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/tmp/shots/engineer-d")
TIMEOUT_MS = 90_000  # the first rota fits a forecast and its backtest on two shared cores
END = date(2026, 12, 20)  # last seeded day
TODAY = END + timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)


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
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("rota-browser")
    master = root / "master.duckdb"
    (root / "files").mkdir()
    seed_demo(master, days=90, stores=3, seed=7, end=END)  # demo, s01, s02
    db, home, secrets = browser_dashboard_files(
        root / "files", master, ["demo-cam-1"], {"mia": ("store_manager", "s01")}
    )
    env = {
        "STORELENS_DB": str(db),
        "STORELENS_HOME": str(home),
        "STORELENS_STREAM_SECRET": "browser-test-secret",
        "STORELENS_DEMO": "0",
        "STORELENS_NOW": f"{TODAY}T07:30:00+00:00",
    }
    server = StreamlitServer(env, secrets, root / "streamlit.log").start()
    try:
        yield {"url": server.url, "db": db}
    finally:
        server.stop()


def test_manager_downloads_tomorrows_rota(served: dict, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(served["url"])
    page.get_by_role("textbox", name="User name").fill("mia")
    page.get_by_role("textbox", name="Password").fill("mia-pw")
    page.get_by_role("button", name="Sign in").click()
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Staffing").first.click()
    expect(page.get_by_role("heading", name="Tomorrow's rota")).to_be_visible()
    expect(page.get_by_text(f"{TOMORROW:%A %d %B %Y}")).to_be_visible()
    expect(page.get_by_text(f"no shifts imported for {TOMORROW}")).to_be_visible()
    button = page.get_by_role("button", name="Download rota (CSV, shift import)")
    expect(button).to_be_visible()
    SHOTS.mkdir(parents=True, exist_ok=True)
    button.scroll_into_view_if_needed()  # the page scrolls inside Streamlit's own container
    page.wait_for_timeout(1500)  # let the tables settle before the picture
    page.screenshot(path=str(SHOTS / "staffing-rota.png"))

    with page.expect_download() as info:
        button.click()
    assert info.value.suggested_filename == f"rota-s01-{TOMORROW}.csv"
    csv = Path(info.value.path()).read_text()
    lines = csv.splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert {line.split(",")[1] for line in lines[1:]} == {"s01"}  # the manager's store only
    # Exactly the data layer's rota for that store and day (the defaults: no config saved).
    expected = plan_rota(
        LocalReader(served["db"]), "s01", TOMORROW, Scope.of("s01"), today=TODAY
    ).to_csv()
    assert csv == expected
    context.close()
