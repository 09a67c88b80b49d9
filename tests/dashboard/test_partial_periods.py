"""Partial periods (issue 10, item 7): today has no shifts or sales imported yet, so
Staffing, Compare and Summary default to complete days, and wherever today is shown it is
marked partial (Store keeps it: managers want today's numbers)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

from storelens.dashboard.auth import Role, User
from storelens.dashboard.filters import PARTIAL_NOTE, parse_filters
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MANAGER = User("mia", Role.STORE_MANAGER, store="s1")
EXECUTIVE = User("eve", Role.EXECUTIVE)
TODAY = date.today()  # the pages' notion of today (server clock), as in dashboard/filters.py
YESTERDAY = TODAY - timedelta(days=1)


def open_page(user: User, page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.caption, *at.warning])


def partial_shading(at: AppTest) -> int:
    """Charts that shade a period as 'today: partial'."""
    count = 0
    for chart in at.get("plotly_chart"):
        layout = json.loads(chart.proto.spec).get("layout", {})
        notes = [a.get("text") for a in layout.get("annotations", [])]
        count += "today: partial" in notes and bool(layout.get("shapes"))
    return count


def test_complete_days_default_ends_yesterday() -> None:
    flt, warnings = parse_filters({}, TODAY, default_days=7, complete_days=True)
    assert (flt.start, flt.end, warnings) == (YESTERDAY - timedelta(days=6), YESTERDAY, [])
    flt, _ = parse_filters({}, TODAY, default_days=7)
    assert flt.end == TODAY  # the Store page's default keeps today
    explicit, _ = parse_filters({"to": str(TODAY)}, TODAY, complete_days=True)
    assert explicit.end == TODAY  # a chosen range is respected


def test_staffing_and_compare_default_to_complete_days(dashboard_env: Path) -> None:
    for page in ("staffing", "compare"):
        at = open_page(MANAGER, page)
        assert at.query_params["to"] == str(YESTERDAY), page
        assert PARTIAL_NOTE not in texts(at), page


def test_a_range_through_today_is_marked_partial(dashboard_env: Path) -> None:
    week = {"from": str(TODAY - timedelta(days=6)), "to": str(TODAY)}
    for page in ("staffing", "compare"):
        assert PARTIAL_NOTE in texts(open_page(MANAGER, page, week)), page


def test_summary_covers_complete_days(dashboard_env: Path) -> None:
    at = open_page(EXECUTIVE, "executive")
    assert f"{YESTERDAY - timedelta(days=27)} – {YESTERDAY}" in texts(at)


def test_store_marks_today_partial_and_only_then(dashboard_env: Path) -> None:
    # Issue 19 item 1: the Store page's week is complete days (today has its own panel);
    # a range chosen through today still shows today on the charts, marked partial.
    week = {"store": "s1", "from": str(TODAY - timedelta(days=6)), "to": str(TODAY)}
    with_today = open_page(MANAGER, "store", week)
    assert PARTIAL_NOTE in texts(with_today)
    assert partial_shading(with_today) == 2  # visitors, conversion over time
    queue_tab = open_page(MANAGER, "store", {**week, "store_tab": "Satisfaction and queue"})
    assert partial_shading(queue_tab) == 1  # the queue over time
    default = open_page(MANAGER, "store", {"store": "s1"})
    assert default.query_params["to"] == str(YESTERDAY)
    assert PARTIAL_NOTE not in texts(default)
    assert partial_shading(default) == 0


def test_store_shading_covers_the_whole_bar_of_today(dashboard_env: Path) -> None:
    """Bars are centred on their bucket: a shade from today 00:00 covered half of it."""
    through_today = {"store": "s1", "granularity": "day", "to": str(TODAY)}
    at = open_page(MANAGER, "store", through_today)
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    shape = spec["layout"]["shapes"][0]
    assert shape["x0"].startswith(f"{YESTERDAY}T12:00") and shape["x1"].startswith(
        f"{TODAY}T12:00"
    ), shape
