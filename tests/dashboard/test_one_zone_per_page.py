"""Issue 19 item 3: one time zone per page, the store's. On the Live page the alerts, the
people-per-minute axis and the tiles all read the store's wall clock with the same zone
name; an alert from before today carries its date."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from storelens.dashboard.auth import Role, User
from storelens.dashboard.tiles import Tile, tile_grid_html
from storelens.data.storetime import format_time, now_utc

from tests.dashboard.conftest import TODAY
from tests.dashboard.test_partial_periods import open_page

MANAGER = User("mia", Role.STORE_MANAGER, store="s1")
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def berlin_noon(dashboard_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """s1 in Berlin; now is 12:00 UTC (13:00 CET); its alert was raised yesterday 22:30 CET;
    people were seen at 12:50-12:58 CET."""
    con = duckdb.connect(str(dashboard_env))
    try:
        con.execute("UPDATE stores SET timezone = 'Europe/Berlin' WHERE store_id = 's1'")
        con.execute(
            f"UPDATE alerts SET ts = TIMESTAMPTZ '{YESTERDAY} 21:30:00+00' "
            "WHERE camera_id = 's1-entrance'"
        )
        con.execute(
            f"UPDATE detections SET ts = TIMESTAMPTZ '{TODAY} 11:59:00+00' "
            "- track_id * INTERVAL 3 MINUTE"
        )
    finally:
        con.close()
    monkeypatch.setenv("STORELENS_NOW", f"{TODAY}T12:00:00+00:00")
    return dashboard_env


def test_live_page_reads_the_store_clock(berlin_noon: Path) -> None:
    at = open_page(MANAGER, "live", {"store": "s1"})
    alerts = " ".join(m.value for m in at.markdown)
    day = f"{YESTERDAY:%a} {YESTERDAY.day} {YESTERDAY:%b}"
    assert f"{day} 22:30 CET" in alerts  # yesterday's alert says so, in the store's zone
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert "(CET)" in chart["layout"]["title"]["text"]
    xs = [x for trace in chart["data"] for x in trace["x"]]
    # 11:56, 11:53, 11:50 UTC on the axis as 12:56, 12:53, 12:50 store time.
    assert sorted(x[11:16] for x in xs) == ["12:50", "12:53", "12:56"], xs


def test_tiles_name_the_zone_as_the_page_does() -> None:
    page = tile_grid_html([Tile("c1", "Door", "/stream/c1")], 1, "Europe/Berlin")
    name = format_time(now_utc(), "Europe/Berlin").rsplit(" ", 1)[1]  # CET or CEST
    assert f'"zoneName": "{name}"' in page  # the tile script names it so, not "GMT+1"


def test_times_carry_their_date_when_not_today() -> None:
    from datetime import UTC, date, datetime

    ts = datetime(2026, 12, 6, 21, 30, tzinfo=UTC)
    assert format_time(ts, "Europe/Berlin", today=date(2026, 12, 7)) == "Sun 6 Dec 22:30 CET"
    assert format_time(ts, "Europe/Berlin", today=date(2026, 12, 6)) == "22:30 CET"
    assert format_time(ts, None, today=date(2026, 12, 6)) == "21:30 UTC"
