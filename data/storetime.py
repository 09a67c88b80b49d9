"""Store time: one clock, the store's zone, and its opening hours.

Every "now" of the dashboard comes from :func:`now_utc`, so a page's notion of today, of
the running hour and of "before opening" is the same everywhere, and a test or a demo can
fix it. **Test/demo hook:** env ``STORELENS_NOW`` (ISO 8601 with an offset, e.g.
``2026-12-07T05:30:00+01:00``; without one it is UTC) makes :func:`now_utc` return that
instant instead of the system clock. It is read here and nowhere else; leave it unset in
production.

Times shown to people are the store's wall clock with the zone's short name ("05:30 CET"),
and carry their date when they are not today ("Sat 5 Dec 14:05 CET"). A store without a
known zone shows UTC, and says so. Opening hours are whole local hours ``open_hour`` ..
``close_hour`` (the store closes at ``close_hour``:00).

Neither SQL nor Streamlit nor vision here: pure functions over datetimes (and one polars
expression for chart axes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl
from storelens.kernel.errors import ConfigError

NOW_ENV = "STORELENS_NOW"

OpeningState = Literal["before_opening", "open", "after_closing"]


def now_utc() -> datetime:
    """The current instant (UTC), or ``STORELENS_NOW`` when set (a test/demo hook)."""
    raw = os.environ.get(NOW_ENV, "").strip()
    if not raw:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ConfigError(
            f"env {NOW_ENV}={raw!r} is not an ISO 8601 time (e.g. 2026-12-07T05:30:00+01:00); "
            f"fix it or unset {NOW_ENV} to use the system clock"
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def zone(name: str | None) -> tzinfo:
    """The store's zone; UTC where the name is empty or unknown (shown as UTC, never bare)."""
    try:
        return ZoneInfo(name) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local(ts: datetime, tz: str | None) -> datetime:
    """``ts`` (a naive time is a UTC instant, as the data layer returns them) on the store's
    wall clock."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(zone(tz))


def local_clock(column: pl.Expr, tz: str | None) -> pl.Expr:
    """A column of UTC instants (naive or UTC-aware) as the store's naive wall-clock time,
    for a chart axis that must read like the rest of the page."""
    name = getattr(zone(tz), "key", "UTC")
    return column.dt.replace_time_zone("UTC").dt.convert_time_zone(name).dt.replace_time_zone(None)


def store_now(tz: str | None) -> datetime:
    """Now on the store's wall clock (aware)."""
    return local(now_utc(), tz)


def store_today(tz: str | None) -> date:
    return store_now(tz).date()


def zone_name(tz: str | None, at: datetime | None = None) -> str:
    """The zone's short name at ``at`` (default now): 'CET', 'CEST', 'UTC'."""
    return local(at or now_utc(), tz).tzname() or "UTC"


def format_time(ts: datetime, tz: str | None, fmt: str = "%H:%M", today: date | None = None) -> str:
    """``ts`` on the store's wall clock with its zone: '14:05 CET' today, 'Sat 5 Dec 14:05
    CET' on another day (an alert from yesterday must not read as one from this morning)."""
    at = local(ts, tz)
    day = today or store_today(tz)
    prefix = "" if at.date() == day else f"{at:%a} {at.day} {at:%b} "
    return f"{prefix}{at.strftime(fmt)} {at.tzname()}"


def hour_text(hour: int) -> str:
    return f"{hour % 24:02d}:00"


@dataclass(frozen=True)
class OpeningDay:
    """Where the store's day stands at ``now`` (store-local)."""

    now: datetime  # aware, store-local
    open_hour: int
    close_hour: int

    @property
    def state(self) -> OpeningState:
        if self.now.hour < self.open_hour:
            return "before_opening"
        if self.now.hour >= self.close_hour:
            return "after_closing"
        return "open"

    @property
    def complete_hours(self) -> range:
        """Today's opening hours that have ended: open_hour .. (exclusive) the running hour,
        or close_hour once closed. Empty before opening and during the first hour."""
        return range(self.open_hour, max(self.open_hour, min(self.now.hour, self.close_hour)))

    @property
    def running_hour(self) -> int | None:
        """The opening hour in progress (its numbers are partial), None when closed."""
        return self.now.hour if self.state == "open" else None


def opening_day(now_local: datetime, open_hour: int, close_hour: int) -> OpeningDay:
    # A store listed as open round the clock or with close <= open (over midnight) is
    # taken as open until midnight: the hourly rollups are per local calendar day.
    close = close_hour if open_hour < close_hour <= 24 else 24
    return OpeningDay(now_local, max(0, min(open_hour, 23)), close)


def last_closed_opening_hour(now_local: datetime, open_hour: int, close_hour: int) -> datetime:
    """Start (store-local, naive) of the newest opening hour that has ended by ``now_local``:
    the hour that must be published for a store to be complete."""
    day = opening_day(now_local, open_hour, close_hour)
    hours = day.complete_hours
    base = datetime.combine(now_local.date(), datetime.min.time())
    if hours:
        return base + timedelta(hours=hours[-1])
    # Nothing ended yet today: yesterday's last opening hour.
    return base - timedelta(days=1) + timedelta(hours=day.close_hour - 1)


def opening_hours_between(after: datetime, upto: datetime, open_hour: int, close_hour: int) -> int:
    """Opening hours (naive local hour starts) in (after, upto]: how many a late store misses
    (at most a year's worth of hours, 24 x 366)."""
    day = opening_day(upto, open_hour, close_hour)
    first = after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    last = upto.replace(minute=0, second=0, microsecond=0)
    if last < first:
        return 0
    # Counted, not walked hour by hour: a store silent for months cost ~6 ms per call that
    # way, 30 s for an HQ freshness table of 5,000 such stores (benchmarks/bench_hq.py).
    per_day = max(day.close_hour - day.open_hour, 0)

    def before(hour: datetime) -> int:  # opening hours starting before ``hour``, from first's day
        days = (hour.date() - first.date()).days
        return days * per_day + min(max(hour.hour - day.open_hour, 0), per_day)

    return min(before(last + timedelta(hours=1)) - before(first), 24 * 366)
