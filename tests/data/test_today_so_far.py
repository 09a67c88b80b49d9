"""Issue 19 item 1, the data side: today so far counts today's ended opening hours only,
against the same hours of the same weekday a week earlier; nothing before opening counts.
And the one clock: STORELENS_NOW fixes "now" (a test/demo hook) or says what is wrong."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from storelens.data import kpi
from storelens.data.reader import LocalReader
from storelens.data.storetime import now_utc, opening_day
from storelens.data.today import today_so_far
from storelens.kernel.errors import ConfigError

from tests.dashboard.conftest import TODAY, build_dashboard_db


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalReader]:
    # s1: 10 visitors an hour 09-17 UTC every day for 15 days, today included.
    r = LocalReader(build_dashboard_db(tmp_path_factory.mktemp("today") / "d.duckdb"))
    yield r
    r.close()


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(TODAY.year, TODAY.month, TODAY.day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "state", "hours", "visitors"),
    [
        (at(5, 30), "before_opening", [], 0),
        (at(9, 40), "open", [], 0),  # the first hour is still running
        (at(11, 20), "open", [9, 10], 20),  # 09-11 ended; 11:00 runs
        (at(21, 0), "after_closing", list(range(9, 18)), 90),
    ],
)
def test_today_counts_ended_opening_hours(reader, now, state, hours, visitors):
    panel = today_so_far(reader, "s1", kpi.Scope.of("s1"), now=now)
    assert panel.day.state == state
    assert list(panel.hours) == hours
    assert (panel.now_figures["visitors"] or 0) == visitors
    # A week earlier, the same hours: the same 10 an hour.
    assert (panel.before_figures["visitors"] or 0) == visitors
    assert (panel.last_week - panel.today).days == -7


def test_outside_the_scope_is_denied(reader):
    from storelens.data.errors import AccessDenied

    with pytest.raises(AccessDenied):
        today_so_far(reader, "s2", kpi.Scope.of("s1"), now=at(12))


def test_the_clock_hook(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STORELENS_NOW", "2026-12-07T05:30:00+01:00")
    assert now_utc() == datetime(2026, 12, 7, 4, 30, tzinfo=UTC)
    monkeypatch.setenv("STORELENS_NOW", "half past five")
    with pytest.raises(ConfigError, match=r"STORELENS_NOW.*ISO 8601"):
        now_utc()
    monkeypatch.delenv("STORELENS_NOW")
    assert abs((now_utc() - datetime.now(UTC)).total_seconds()) < 60


def test_a_store_open_past_midnight_is_open_until_midnight():
    day = opening_day(datetime(2026, 12, 7, 23, 30), 18, 2)
    assert day.state == "open" and day.close_hour == 24
