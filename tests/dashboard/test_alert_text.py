"""Alerts as staff read them (issue 10, item 8): a human title and what to do for every
kind, and the store's local time with its zone, on the Live page itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from storelens.dashboard.alert_text import KINDS, describe, local_time
from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.mark.parametrize("kind", [*KINDS, "alert", "something_new"])
def test_every_kind_has_a_title_and_an_action(kind: str) -> None:
    text = describe(kind, "alert in zone checkout after 312 s")
    assert text.title and text.title.lower() != "alert"
    assert text.action.endswith(".")


def test_event_alerts_from_history_read_as_long_waits() -> None:
    text = describe("alert", "alert in zone checkout after 312 s")
    assert text.title == "Long wait at checkout"
    assert text.detail == "A shopper waited 5:12 min in checkout."


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Europe/Berlin", "13:05 CET"),  # winter: UTC+1
        ("America/New_York", "07:05 EST"),
        ("Not/AZone", "12:05 UTC"),
        (None, "12:05 UTC"),
    ],
)
def test_local_time_names_the_zone(tz, expected) -> None:
    assert local_time(datetime(2026, 1, 15, 12, 5, tzinfo=UTC), tz) == expected


def test_live_feed_shows_titles_actions_and_store_local_time(dashboard_env: Path) -> None:
    con = duckdb.connect(str(dashboard_env))
    try:
        con.execute("UPDATE stores SET timezone = 'Europe/Berlin' WHERE store_id = 's1'")
        ts = con.execute("SELECT ts FROM alerts WHERE store_id = 's1'").fetchall()[0][0]
    finally:
        con.close()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = User("mia", Role.STORE_MANAGER, store="s1")
    at.run()
    at.switch_page("screens/live.py").run()
    assert not at.exception, [e.value for e in at.exception]
    feed = " ".join(m.value for m in at.markdown)
    berlin = ts.astimezone(ZoneInfo("Europe/Berlin"))
    assert f"**Long queue wait** · {berlin:%H:%M} {berlin.tzname()}" in feed
    assert KINDS["queue_wait"][1] in feed
    if berlin.utcoffset() != timedelta(0):  # the shown time is not the UTC one
        assert f"{ts.astimezone(UTC):%H:%M} {berlin.tzname()}" not in feed


def test_live_feed_hides_camera_sources_and_errors(dashboard_env: Path) -> None:
    """Issue 18, item 11: an offline alert stored with the raw capture error (as before the
    fix: a file path and the library's text, an internal URL) reads on the Live page as a
    category only."""
    leaky = [
        "Entrance: camera offline for 1:05 min (/etc/passwd: cannot decode this file as video)",
        "Till 2: camera offline for 0:40 min (http://10.20.0.7:8081/internal/cam2: stream "
        "stopped delivering frames)",
    ]
    con = duckdb.connect(str(dashboard_env))
    try:
        camera = con.execute("SELECT camera_id FROM cameras WHERE store_id = 's1'").fetchone()[0]
        for detail in leaky:
            con.execute(
                "INSERT INTO alerts (ts, store_id, camera_id, kind, detail) "
                "VALUES (now(), 's1', ?, 'camera_offline', ?)",
                [camera, detail],
            )
    finally:
        con.close()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = User("mia", Role.STORE_MANAGER, store="s1")
    at.run()
    at.switch_page("screens/live.py").run()
    assert not at.exception, [e.value for e in at.exception]
    feed = " ".join(m.value for m in at.markdown)
    assert "Entrance: camera offline for 1:05 min (cannot decode)" in feed
    assert "Till 2: camera offline for 0:40 min (stream stopped)" in feed
    for leak in ("/etc/passwd", "10.20.0.7", "internal", "http", "this file as video"):
        assert leak not in feed, leak
