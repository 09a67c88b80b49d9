"""The Staffing page's rota section on a history too short to forecast (issue 22): one
line that says why and from when a rota is possible, and the rest of the page intact."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests.dashboard.conftest import DAYS, TODAY
from tests.dashboard.test_pages import USERS, metric, open_app, problems


def test_short_history_says_when_a_rota_becomes_possible(dashboard_env: Path) -> None:
    at = open_app(USERS["manager"], page="screens/staffing.py")
    assert not problems(at)
    assert any(h.value == "Tomorrow's rota" for h in at.subheader)
    first_day = TODAY - timedelta(days=DAYS - 1)
    notes = " ".join(i.value for i in at.info)
    assert "No rota:" in notes and "fewer than 28 days of history" in notes
    assert f"pick a date from {first_day + timedelta(days=28)}" in notes
    assert metric(at, "Hours over-staffed")  # the page above the section still renders
    assert not [b for b in at.get("download_button") if "rota" in str(b.proto.label)]
