"""Issue 19 item 4 in Chromium: an admin uploads sales with a €99,999,999 receipt on Setup →
Imports. The page lists the implausible row and writes nothing; only the confirm click
imports the file."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from tests.dashboard.conftest import TODAY
from tests.dashboard.harness import CHROMIUM_ARGS, StreamlitServer, browser_dashboard_files

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/tmp/shots/engineer-b")
TIMEOUT_MS = 60_000


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


def _receipts(db: Path) -> int:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM transactions").fetchall()[0][0]
    finally:
        con.close()


def test_implausible_receipt_needs_a_confirm_click(
    tmp_path: Path, dashboard_db_master: Path, browser
) -> None:
    from playwright.sync_api import expect

    db, home, secrets = browser_dashboard_files(
        tmp_path, dashboard_db_master, ["s1-entrance"], {"ada": ("admin", None)}
    )
    day = TODAY - timedelta(days=1)
    upload = tmp_path / "monday.csv"
    upload.write_text(
        "ts,store_id,amount\n"
        f"{day}T10:00:00,s1,23.50\n"
        f"{day}T10:05:00,s1,99999999\n"  # s1's receipts are €25: implausible
        f"{day}T10:10:00,s1,31.00\n"
    )
    before = _receipts(db)
    env = {"STORELENS_DB": str(db), "STORELENS_HOME": str(home), "STORELENS_DEMO": "0"}
    server = StreamlitServer(env, secrets, tmp_path / "streamlit.log").start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server.url)
        page.get_by_role("textbox", name="User name").fill("ada")
        page.get_by_role("textbox", name="Password").fill("ada-pw")
        page.get_by_role("button", name="Sign in").click()
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Setup").first.click()
        page.get_by_role("tab", name="Imports").click()
        page.locator('input[type="file"]').set_input_files(str(upload))
        page.get_by_role("button", name="Import monday.csv").click()
        expect(page.get_by_text("1 implausible row(s)").first).to_be_visible()
        confirm = page.get_by_role("button", name="Import monday.csv anyway")
        expect(confirm).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "import-flagged.png"), full_page=True)
        assert _receipts(db) == before  # nothing written without the click

        confirm.click()
        expect(page.get_by_text("Imported monday.csv: 3 rows added")).to_be_visible()
        expect(confirm).to_have_count(0)
        page.screenshot(path=str(SHOTS / "import-confirmed.png"), full_page=True)
        page.close()
    finally:
        server.stop()
    assert _receipts(db) == before + 3
