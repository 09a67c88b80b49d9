"""Issue 19 item 1 in Chromium: before opening, the Store page's week figures do not move
(the week is complete days; today has its own panel), even while the cameras count people
walking past before opening.

The dashboard's clock is fixed through ``STORELENS_NOW`` (data/storetime.py, the one test /
demo hook for "now"): one server at 05:30 store time, then people pass the entrance before
opening, then a second server at 06:00.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.writer import Writer

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


def _walk_in_before_opening(db: Path, minutes: list[int], first_track: int) -> None:
    """People crossing s1's entrance line today at 05:MM (the store opens at 09:00)."""
    day = datetime(TODAY.year, TODAY.month, TODAY.day, 5, tzinfo=UTC)
    n = len(minutes)
    events = pa.table(
        {
            "ts": [day + timedelta(minutes=m) for m in minutes],
            "camera_id": ["s1-entrance"] * n,
            "track_id": list(range(first_track, first_track + n)),
            "kind": ["enter"] * n,
            "zone": [None] * n,
            "value": [None] * n,
        },
        schema=BATCH_SCHEMAS["events"],
    )
    with Writer(db) as writer:
        writer.append("events", events, f"test:before-opening:{first_track}")  # a batch id once
        writer.flush()
        writer.rollup_now()


def _store_page(browser, env: dict[str, str], secrets: Path, log: Path, name: str) -> list[str]:
    """Sign in as the manager at the fixed time; the week's metric tiles, as shown."""
    from playwright.sync_api import expect

    server = StreamlitServer(env, secrets, log).start()
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(server.url)
        page.get_by_role("textbox", name="User name").fill("mia")
        page.get_by_role("textbox", name="Password").fill("mia-pw")
        page.get_by_role("button", name="Sign in").click()
        page.locator('[data-testid="stSidebarNavLink"]', has_text="Store").first.click()
        expect(page.get_by_role("heading", name="Today so far")).to_be_visible()
        expect(page.get_by_text("Before opening: the store opens at 09:00 UTC")).to_be_visible()
        metrics = page.locator('[data-testid="stMetric"]')
        expect(metrics).to_have_count(6)  # the week's six; none in today's panel yet
        page.wait_for_timeout(1500)  # plotly finishes drawing for the screenshot
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        week = [m.inner_text() for m in metrics.all()]
        panel = page.locator('[data-testid="stAlertContentInfo"]', has_text="Before opening")
        week.append(panel.first.inner_text())
        page.close()
        return week
    finally:
        server.stop()


def test_store_week_is_the_same_at_0530_and_0600(tmp_path: Path, dashboard_db_master, browser):
    db, home, secrets = browser_dashboard_files(
        tmp_path, dashboard_db_master, ["s1-entrance"], {"mia": ("store_manager", "s1")}
    )
    env = {
        "STORELENS_DB": str(db),
        "STORELENS_HOME": str(home),
        "STORELENS_DEMO": "0",
        "STORELENS_NOW": f"{TODAY}T05:30:00+00:00",
    }
    _walk_in_before_opening(db, [5, 12, 20], 900_000)
    early = _store_page(browser, env, secrets, tmp_path / "a.log", "store-0530")
    _walk_in_before_opening(db, [35, 41, 47, 55], 900_100)  # four more before 06:00
    env["STORELENS_NOW"] = f"{TODAY}T06:00:00+00:00"
    later = _store_page(browser, env, secrets, tmp_path / "b.log", "store-0600")

    assert early[:6] == later[:6]  # the week: complete days only, untouched by this morning
    assert "Visitors" in early[0] and "630" in early[0]  # 7 complete days × 9 h × 10
    # Today's panel sees the people and says they do not count.
    assert "3 people the cameras saw before opening are not counted" in early[6]
    assert "7 people the cameras saw before opening are not counted" in later[6]
