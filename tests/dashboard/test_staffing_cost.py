"""Issue 19 item 5: the Staffing page has one cost source and says which: the imported
shift costs when the period has them (the rate behind "Labour cost / visitor"), else the
page's own € per staff-hour; the hour-by-hour table speaks words, not column names."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from storelens.dashboard.auth import Role, User

from tests.dashboard.test_partial_periods import YESTERDAY, open_page

MANAGER = User("mia", Role.STORE_MANAGER, store="s1")


def _captions(at) -> str:
    return " ".join(c.value for c in at.caption)


def test_imported_shift_costs_are_the_one_source(dashboard_env: Path) -> None:
    at = open_page(MANAGER, "staffing", {"store": "s1"})
    assert "Costs use the imported shift costs: €20.00 per staff-hour" in _captions(at)
    cost_slider = at.slider(key="w_cost")
    assert cost_slider.disabled  # the slider cannot say something the costs do not use
    metrics = {m.label: m.value for m in at.metric}
    # s1 schedules 2 where 1 is enough: each opening hour is over by one staff-hour at €20.
    hours = int(metrics["Hours over-staffed"])
    assert hours > 0
    assert metrics["Cost of over-staffing"] == f"€{hours * 20:,.0f}"
    table = at.dataframe[0].value
    assert "visitors_basis" not in table.columns and "diff_staff" not in table.columns
    assert {"Visitors expected", "Scheduled minus recommended", "Staff recommended"} <= set(
        table.columns
    )


def test_without_shifts_the_page_rate_is_used_and_said(dashboard_env: Path) -> None:
    long_ago = {
        "store": "s1",
        "from": str(YESTERDAY - timedelta(days=80)),
        "to": str(YESTERDAY - timedelta(days=74)),
    }
    at = open_page(MANAGER, "staffing", long_ago)
    assert "Costs use the hourly cost set on this page: €20.00" in _captions(at)
    assert not at.slider(key="w_cost").disabled
    at.slider(key="w_cost").set_value(30.0).run()
    assert "Costs use the hourly cost set on this page: €30.00" in _captions(at)
