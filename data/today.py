"""Today so far against the same opening hours of the same weekday last week.

A week's figures compare complete days with complete days; today has its own comparison,
hour for hour: at 11:20 store time, today's complete opening hours 09:00–11:00 against
09:00–11:00 a week earlier. Nothing before opening counts (a cleaner walking past the
entrance at 05:40 is not a visitor of the day), the running hour is partial and left out
until it ends, and everything is on the store's wall clock (the hourly rollups are keyed by
store-local hour).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from storelens.data import kpi
from storelens.data.errors import InvalidParams
from storelens.data.reader import Reader
from storelens.data.storetime import OpeningDay, local, now_utc, opening_day

# The figures of the today panel (headline keys; labels live in the dashboard).
TODAY_FIGURES = ("visitors", "conversion", "sales_per_visitor", "queue_wait_s_avg")


@dataclass(frozen=True)
class TodaySoFar:
    store_id: str
    timezone: str | None
    day: OpeningDay
    today: date
    last_week: date
    hours: range  # the complete opening hours compared (store-local hour of day)
    now_figures: dict[str, Any] = field(default_factory=dict)
    before_figures: dict[str, Any] = field(default_factory=dict)
    sales_imported: bool = False  # any transaction in today's compared hours
    before_opening_visitors: int = 0  # counted by the cameras, left out of the day


def _figures(frame: pl.DataFrame, min_group: int) -> dict[str, Any]:
    row = kpi.totals(frame.drop("store_id", "bucket", strict=False), min_group)
    out = {}
    for key in (*TODAY_FIGURES, "transactions"):
        value = row.get(key)
        out[key] = None if isinstance(value, float) and not math.isfinite(value) else value
    return out


def today_so_far(
    reader: Reader,
    store: str,
    scope: kpi.Scope,
    min_group: int = kpi.MIN_GROUP,
    now: datetime | None = None,
) -> TodaySoFar:
    """Today's complete opening hours so far vs the same hours a week earlier."""
    probe = kpi.KpiFilter(date.today(), date.today(), (store,), "hour")
    kpi.resolve_stores(reader, probe, scope)  # scope first: never reveal whether it exists
    stores = reader.query("stores", {"stores": [store]})
    if stores.is_empty():
        raise InvalidParams(f"store {store!r} does not exist")
    info = stores.row(0, named=True)
    tz = info.get("timezone")
    now_local = local(now or now_utc(), tz)
    day = opening_day(now_local, int(info["open_hour"]), int(info["close_hour"]))
    today = now_local.date()
    last_week = today - timedelta(days=7)
    hours = day.complete_hours
    flt = kpi.KpiFilter(last_week, today, (store,), "hour")
    frame = kpi.metrics(reader, flt, scope)
    hour_of_day = pl.col("bucket").dt.hour()
    on = pl.col("bucket").dt.date()
    in_hours = hour_of_day.is_between(hours.start, hours.stop - 1) if hours else pl.lit(False)
    now_rows = frame.filter((on == today) & in_hours)
    before_rows = frame.filter((on == last_week) & in_hours)
    early = frame.filter((on == today) & (hour_of_day < day.open_hour))
    return TodaySoFar(
        store_id=store,
        timezone=tz,
        day=day,
        today=today,
        last_week=last_week,
        hours=hours,
        now_figures=_figures(now_rows, min_group),
        before_figures=_figures(before_rows, min_group),
        sales_imported=bool(now_rows.height and now_rows["transactions"].sum() > 0),
        before_opening_visitors=int(early["visitors"].sum()) if early.height else 0,
    )
