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
