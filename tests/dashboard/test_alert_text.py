"""Alerts as staff read them (issue 10, item 8): a human title and what to do for every
kind, and the store's local time with its zone, on the Live page itself."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest
from storelens.dashboard.alert_text import KINDS, describe, local_time
from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


@pytest.mark.parametrize("kind", [*KINDS, "something_new"])
@pytest.mark.parametrize("zone", [None, "checkout 2"])
def test_every_kind_has_a_title_and_an_action(kind: str, zone: str | None) -> None:
    text = describe(kind, "Till · checkout 2: a shopper has waited 5:12 min", zone, "queue")
    assert text.title and text.title.lower() != "alert"
    assert text.action.endswith(".")


@pytest.mark.parametrize(
    ("kind", "zone", "zone_kind", "title", "action"),
    [
        # Issue 19 item 7: the title names the zone, the action follows its kind.
        ("frustrated", "service desk", "floor", "Frustrated shopper at Service desk",
         "Go to Service desk and offer help."),
        ("frustrated", "checkout 2", "checkout", "Frustrated shopper at Checkout 2",
         "Go to Checkout 2 and offer help; open another till if the queue is long."),
        ("queue_wait", "returns", "queue", "Long queue wait at Returns",
         "Open another till or send a colleague to help at Returns."),
        ("queue_wait", "service desk", "floor", "Long queue wait at Service desk",
         "Send a colleague to Service desk: shoppers are waiting."),
        # Rows stored before alerts carried their zone: no place rather than a wrong one.
        ("frustrated", None, None, "Frustrated shopper", "Go to the shopper and offer help."),
        ("camera_offline", None, None, "Camera offline",
         "Check the camera's power and network cable; its Live tile shows since when."),
    ],
)  # fmt: skip
def test_titles_name_the_zone_and_actions_follow_its_kind(
    kind: str, zone: str | None, zone_kind: str | None, title: str, action: str
) -> None:
    text = describe(kind, "Desk cam · service desk: frustrated shopper for 12 s", zone, zone_kind)
    assert (text.title, text.action) == (title, action)
    assert "checkout" not in text.title.lower() or "checkout" in (zone or "")


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
    today = date(2026, 1, 15)  # the alert's own day on every clock here: no date
    assert local_time(datetime(2026, 1, 15, 12, 5, tzinfo=UTC), tz, today=today) == expected


def test_a_pushed_alert_from_an_earlier_day_carries_its_date() -> None:
    # Issue 19 item 3: the same rule as the pages (storetime.format_time); a push delivered
    # after an outage must not read as this morning's alert.
    raised = datetime(2026, 12, 5, 13, 5, tzinfo=UTC)
    assert local_time(raised, "Europe/Berlin", today=date(2026, 12, 7)) == "Sat 5 Dec 14:05 CET"
    assert local_time(raised, "Europe/Berlin", today=date(2026, 12, 5)) == "14:05 CET"


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
    # The title names the zone, the action its till (issue 19 item 7).
    assert f"**Long queue wait at Checkout** · {berlin:%H:%M} {berlin.tzname()}" in feed
    assert "Open another till or send a colleague to help at Checkout." in feed
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
