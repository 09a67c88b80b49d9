"""Drill-down facts: one store's days, one day's hours, and the likely cause at one hour.

Compare → store → day → hour (the Drill-down page). At the hour, the facts that usually
explain a bad hour are measured side by side, each against its own yardstick:

- queue wait (THE wait of :func:`storelens.data.kpi.queue_wait_exprs`) vs the target;
- staff on shift (imported shifts) vs recommended (:func:`storelens.data.kpi.staffing`:
  STAR and Erlang C from forecast traffic, the Staffing page's numbers);
- conversion vs the same hour a week earlier (and visitors, to tell a crowd from a queue);
- camera data health in that hour (a "bad hour" with no camera data is a data problem).

Polars only; every number through the KPI functions with the caller's scope.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from storelens.data import health, kpi
from storelens.data.reader import Reader
from storelens.data.vocabulary import METRICS


def days_of_store(
    reader: Reader, store: str, start: date, end: date, scope: kpi.Scope, target_wait_s: float
) -> pl.DataFrame:
    """Per day of the period: visitors, transactions, conversion, sales, queue wait and the
    number of opening hours whose wait was over ``target_wait_s``."""
    flt = kpi.KpiFilter(start, end, (store,), "hour")
    hourly = kpi.with_kpis(kpi.metrics(reader, flt, scope))
    schema = {
        "day": pl.Date,
        "visitors": pl.Int64,
        "transactions": pl.Int64,
        "conversion": pl.Float64,
        "sales": pl.Float64,
        "queue_wait_s_avg": pl.Float64,
        "slow_hours": pl.Int64,
    }
    if hourly.is_empty():
        return pl.DataFrame(schema=schema)
    slow = hourly.group_by(pl.col("bucket").dt.date().alias("day")).agg(
        (pl.col("queue_wait_s_avg") > target_wait_s).sum().cast(pl.Int64).alias("slow_hours")
    )
    daily = kpi.summarize(
        hourly.drop([c for c in hourly.columns if c not in _METRIC_OR_KEYS]),
        [pl.col("bucket").dt.date().alias("day")],
    )
    return daily.join(slow, on="day", how="left").select(list(schema)).sort("day")


_METRIC_OR_KEYS = {"store_id", "bucket", *(m.name for m in METRICS)}


def hours_of_day(reader: Reader, store: str, day: date, scope: kpi.Scope) -> pl.DataFrame:
    """Hourly metrics and KPIs of one store-local day (store_id, bucket, metrics, KPIs)."""
    flt = kpi.KpiFilter(day, day, (store,), "hour")
    return kpi.with_kpis(kpi.metrics(reader, flt, scope)).sort("bucket")


@dataclass(frozen=True)
class HourFacts:
    store: str
    hour: datetime  # store-local start of the hour
    wait_s: float | None
    target_wait_s: float
    wait_method: str | None
    staff_on_shift: float | None
    staff_recommended: int | None
    staff_for_checkout: int | None
    conversion: float | None
    conversion_last_week: float | None
    visitors: int | None
    visitors_last_week: int | None
    camera_uptime: float | None  # mean over the store's cameras, None where none

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _row(frame: pl.DataFrame, at: datetime) -> dict[str, Any]:
    hit = frame.filter(pl.col("bucket") == at)
    return hit.row(0, named=True) if hit.height else {}


def hour_facts(
    reader: Reader,
    store: str,
    day: date,
    hour: int,
    scope: kpi.Scope,
    targets: kpi.StaffingTargets | None = None,
    now: datetime | None = None,
    camera_health: bool = True,
) -> HourFacts:
    """The likely-cause facts of ``store`` at ``day`` ``hour``:00 (store-local).
    ``camera_health=False`` where the reader has no raw camera rows (the chain's lake)."""
    t = targets or kpi.StaffingTargets()
    at = datetime.combine(day, datetime.min.time()) + timedelta(hours=hour)
    this = _row(hours_of_day(reader, store, day, scope), at)
    before = _row(
        hours_of_day(reader, store, day - timedelta(days=7), scope), at - timedelta(days=7)
    )
    staffing = kpi.staffing(reader, kpi.KpiFilter(day, day, (store,), "hour"), scope, t)
    staff = _row(staffing, at)
    cams = (
        health.camera_hours(reader, kpi.KpiFilter(day, day, (store,), "hour"), scope, now)
        if camera_health
        else pl.DataFrame(schema=health.HOURS_SCHEMA)
    )
    cams = cams.filter(pl.col("bucket") == at)
    return HourFacts(
        store=store,
        hour=at,
        wait_s=this.get("queue_wait_s_avg"),
        target_wait_s=t.target_wait_s,
        wait_method=this.get("wait_method"),
        staff_on_shift=staff.get("scheduled_staff"),
        staff_recommended=staff.get("recommended_staff"),
        staff_for_checkout=staff.get("checkout_staff"),
        conversion=this.get("conversion"),
        conversion_last_week=before.get("conversion"),
        visitors=this.get("visitors"),
        visitors_last_week=before.get("visitors"),
        camera_uptime=cams["uptime"].mean() if cams.height else None,  # type: ignore[arg-type]
    )


def likely_cause(f: HourFacts) -> list[str]:
    """The facts that point somewhere, most telling first (words for the page)."""
    out: list[str] = []
    if f.camera_uptime is not None and f.camera_uptime == 0:
        return ["No camera data in this hour: the numbers are missing, not low."]
    if f.wait_s is not None and f.wait_s > f.target_wait_s:
        out.append(
            f"Queue wait {f.wait_s:.0f} s, {f.wait_s / f.target_wait_s:.1f}× the "
            f"{f.target_wait_s:.0f} s target."
        )
    if f.staff_on_shift is not None and f.staff_recommended is not None:
        gap = f.staff_on_shift - f.staff_recommended
        if gap <= -1:
            out.append(
                f"{-gap:.0f} fewer staff on shift than recommended "
                f"({f.staff_on_shift:.0f} vs {f.staff_recommended})."
            )
        elif gap >= 1:
            out.append(
                f"{gap:.0f} more staff on shift than recommended "
                f"({f.staff_on_shift:.0f} vs {f.staff_recommended})."
            )
    if f.conversion is not None and f.conversion_last_week is not None:
        pts = 100 * (f.conversion - f.conversion_last_week)
        if abs(pts) >= 2:
            out.append(f"Conversion {f.conversion:.1%}, {pts:+.1f} pts vs the same hour last week.")
    if f.visitors is not None and f.visitors_last_week:
        change = f.visitors / f.visitors_last_week - 1
        if abs(change) >= 0.2:
            out.append(f"Visitors {f.visitors:,}, {change:+.0%} vs the same hour last week.")
    return out or ["Nothing stands out: wait, staffing and conversion are near their yardsticks."]
