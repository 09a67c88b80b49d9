"""Headless Chromium against a real dashboard (issue 22): a regional lead clicks Compare →
store → day → hour, each step kept in the URL, reads the likely cause at the hour, reloads
the deep URL and lands on the same hour; then downloads the weekly report from Summary.
Database: tests/data/insights_db.py (store a's hours 12–13 queue 300 s against 120 s)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storelens.dashboard.auth import hash_password

from tests.dashboard.harness import CHROMIUM_ARGS, StreamlitServer, sign_in
from tests.data.insights_db import SLOW_HOURS, build_insights_db

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 60_000  # two shared cores: first renders can take seconds
SHOTS = Path("/tmp/shots/E")
TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=1)


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh --test installs it)")
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("drill")
    db, home = build_insights_db(root / "dash.duckdb", TODAY), root / "home"
    home.mkdir(mode=0o700)
    secrets = root / "secrets.toml"
    secrets.write_text(
        '[users.nora]\nrole = "regional_lead"\nregion = "north"\n'
        f'password_hash = "{hash_password("nora-pw")}"\n'
    )
    env = {"STORELENS_DB": str(db), "STORELENS_HOME": str(home), "STORELENS_DEMO": "0"}
    server = StreamlitServer(env, secrets, root / "streamlit.log").start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) not installed")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1500)  # let plotly finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_compare_store_day_hour_by_clicks_and_reload(served: str, browser) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(served)
    sign_in(page, "nora", "nora-pw")
    page.locator('[data-testid="stSidebarNavLink"]', has_text="Compare stores").first.click()
    expect(page.get_by_role("heading", name="Compare stores").first).to_be_visible()
    expect(page.get_by_text("Drill into a store")).to_be_visible()
    # Only the lead's region is offered: store a (north), never b (south).
    links = page.locator('a[href*="drill?"]')
    expect(links).to_have_count(1)
    shot(page, "drill-0-compare")

    links.first.click()  # Compare -> store
    page.wait_for_url(re.compile(r"/drill\?.*store=a"))
    expect(page.get_by_role("heading", name=re.compile("by day")).first).to_be_visible()
    day_link = page.get_by_role("button", name=re.compile(rf"^{DAY:%a %d %b} ·"))
    expect(day_link).to_be_visible()
    shot(page, "drill-1-store")

    day_link.click()  # store -> day
    page.wait_for_url(re.compile(rf"/drill\?.*day={DAY.isoformat()}"))
    expect(page.get_by_role("heading", name=re.compile("by hour")).first).to_be_visible()
    hour = SLOW_HOURS[0]
    hour_link = page.get_by_role("button", name=re.compile(rf"^{hour:02d}:00 · 10 visitors"))
    expect(hour_link).to_contain_text("wait 300 s")
    shot(page, "drill-2-day")

    hour_link.click()  # day -> hour
    page.wait_for_url(re.compile(rf"/drill\?.*hour={hour}"))
    cause = page.get_by_text(re.compile(r"Queue wait 300 s, 2\.5× the 120 s target"))
    expect(cause).to_be_visible()
    expect(page.get_by_text("Staff on shift vs recommended")).to_be_visible()
    expect(page.get_by_text("Conversion vs same hour last week")).to_be_visible()
    deep = page.url
    assert "store=a" in deep and f"day={DAY.isoformat()}" in deep and f"hour={hour}" in deep
    shot(page, "drill-3-hour")

    page.reload()  # the deep URL lands on the same hour (session cookie, path in the URL)
    expect(
        page.get_by_text(re.compile(r"Queue wait 300 s, 2\.5× the 120 s target"))
    ).to_be_visible()
    assert page.url == deep

    # A forged store in the deep URL shows no numbers for it.
    page.goto(deep.replace("store=a", "store=b"))
    expect(page.get_by_text("Access denied").first).to_be_visible()
    expect(page.get_by_text("Likely cause")).to_have_count(0)

    # Summary: change vs the previous period, the € figures, and the weekly report.
    page.goto(served + "/executive")
    expect(page.get_by_text("Sales lost to queues")).to_be_visible()
    button = page.get_by_role("button", name=re.compile("Download weekly report"))
    expect(button).to_be_visible()
    shot(page, "drill-4-summary")
    with page.expect_download(timeout=120_000) as info:
        button.click()
    path = info.value.path()
    assert info.value.suggested_filename.startswith("storelens-north-")
    assert Path(path).read_bytes().startswith(b"%PDF")
    context.close()
