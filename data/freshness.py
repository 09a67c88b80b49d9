"""Is a store's published data complete? Judged by its opening hours, on its own clock.

A store that closed at 20:00 and published up to 20:00 is complete all night: at 05:40 it is
"closed, complete", not "10 h late". While it is open, the running hour cannot be complete
yet: "open, partial". Late means an opening hour that has ended is missing from the lake,
and the label says how many. Every time carries the store's zone ("20:00 CET").

Pure functions over a lake status row (:func:`data.lake.status_rows`) and the store's
catalog row (timezone, open_hour, close_hour); no SQL, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from storelens.data.storetime import (
    hour_text,
    last_closed_opening_hour,
    local,
    opening_day,
    opening_hours_between,
)

State = Literal["nothing published", "closed, complete", "open, partial", "late"]


@dataclass(frozen=True)
class Freshness:
    state: State
    label: str
    missing_opening_hours: int  # ended opening hours not yet published (late only)


def _at(hour_start: datetime, zone: str) -> str:
    """'Sun 6 Dec 20:00 CET' for the end of a published hour."""
    end = hour_start + timedelta(hours=1)
    return f"{end:%a} {end.day} {end:%b} {end:%H:%M} {zone}"


def store_freshness(
    newest_local_hour: str | None, store: dict[str, Any], now: datetime
) -> Freshness:
    """Where one store's published data stands at ``now`` (an aware instant)."""
    tz = store.get("timezone")
    now_local = local(now, tz)
    zone = now_local.tzname() or "UTC"
    day = opening_day(now_local, int(store["open_hour"]), int(store["close_hour"]))
    hours = f"open {hour_text(day.open_hour)}–{hour_text(day.close_hour)} {zone}"
    if not newest_local_hour:
        return Freshness("nothing published", f"nothing published yet ({hours})", 0)
    newest = datetime.fromisoformat(newest_local_hour).replace(minute=0, second=0, tzinfo=None)
    due = last_closed_opening_hour(now_local, day.open_hour, day.close_hour)
    if newest < due:
        missing = opening_hours_between(newest, due, day.open_hour, day.close_hour)
        return Freshness(
            "late",
            f"late: {missing} opening hour{'s' if missing != 1 else ''} missing · "
            f"published up to {_at(newest, zone)} ({hours})",
            missing,
        )
    # What is shown as published: complete hours only (a running hour is partial).
    shown = min(
        newest,
        now_local.replace(minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(hours=1),
    )
    running = day.running_hour
    if running is not None:
        return Freshness(
            "open, partial",
            f"open, partial: complete up to {_at(shown, zone)}; the hour "
            f"{hour_text(running)}–{hour_text(running + 1)} {zone} is running",
            0,
        )
    return Freshness(
        "closed, complete",
        f"closed, complete: published up to {_at(shown, zone)} ({hours})",
        0,
    )
