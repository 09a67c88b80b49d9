"""The weekly report's facts for one region and ISO week (no charts, no layout).

``storelens report weekly`` and the Summary page's download both call :func:`weekly_facts`
and hand the result to the presentation side (``dashboard/report_weekly.py``), which
draws the charts and writes the PDF or HTML. Everything here goes through the KPI
functions with the caller's :class:`~storelens.data.kpi.Scope`, so the report shows
exactly the numbers the pages would show that user.

Bad input raises :class:`~storelens.data.errors.InvalidParams` (a malformed week, a region
the database does not have, a week without data) or
:class:`~storelens.data.errors.AccessDenied` (a region outside the caller's scope), each
naming the value and the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
from storelens.data import funnel, health, impact, kpi
from storelens.data.errors import AccessDenied, InvalidParams
from storelens.data.reader import Reader

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(text: str) -> tuple[date, date]:
    """``2026-W49`` -> (its Monday, its Sunday)."""
    match = _WEEK.match(text.strip())
    if not match:
        raise InvalidParams(f"--week {text!r}: expected an ISO week like 2026-W49")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise InvalidParams(
            f"--week {text!r}: {year} has no ISO week {week} (weeks run 01..52 or 53)"
        ) from None
    return monday, monday + timedelta(days=6)


def week_label(day: date) -> str:
    """The ISO week of ``day``, as ``2026-W49``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class WeeklyFacts:
    region: str
    week: str
    start: date
    end: date
    comparison: pl.DataFrame  # kpi.store_comparison of the week (with week-over-week)
    totals: dict[str, Any]  # the region's KPIs this week
    totals_prev: dict[str, Any]  # ... and the week before
    daily: pl.DataFrame  # per store and day: visitors, transactions, sales (this week)
    funnel: pl.DataFrame  # per store over the week
    impact: pl.DataFrame  # data.impact.store_impact
    impact_totals: dict[str, Any]
    assumptions: list[str]
    health: pl.DataFrame  # data.health.store_summary
    gaps: pl.DataFrame  # data.health.blackout_gaps (per store)


def region_stores(reader: Reader, region: str, scope: kpi.Scope) -> list[str]:
    """The stores of ``region`` the caller may see; an unknown region or one entirely
    outside the scope is refused, naming it."""
    stores = reader.query("stores", {})
    known = sorted(r for r in stores["region"].unique().to_list() if r)
    if region not in known:
        raise InvalidParams(
            f"--region {region!r}: no such region in this database; known regions: "
            f"{', '.join(known) or 'none (seed or import data first)'}"
        )
    mine = stores.filter(pl.col("region") == region)["store_id"].to_list()
    visible = mine if scope.stores is None else [s for s in mine if s in scope.stores]
    if not visible:
        raise AccessDenied(f"--region {region!r} is outside this user's scope")
    return sorted(visible)


def check_week(
    reader: Reader, region: str, week: str, scope: kpi.Scope
) -> tuple[date, date, list[str]]:
    """``(monday, sunday, stores)`` of a report that can be made; refuses a malformed week,
    an unknown region, one outside the scope and a week without data (one query)."""
    start, end = parse_week(week)
    stores = region_stores(reader, region, scope)
    flt = kpi.KpiFilter(start, end, tuple(stores), "day")
    daily = kpi.metrics(reader, flt, scope)
    if daily.is_empty() or not (daily["visitors"].sum() or daily["transactions"].sum()):
        around = kpi.metrics(
            reader,
            flt.with_(start=start - timedelta(days=366), end=end + timedelta(days=366)),
            scope,
            granularity="week",
        )
        span = (
            f"data for {region} covers the weeks {week_label(around['bucket'].min().date())}"
            f"..{week_label(around['bucket'].max().date())}"
            if not around.is_empty()
            else f"{region} has no data in the year around it"
        )
        raise InvalidParams(f"--week {week} ({start}..{end}): no data for region {region}; {span}")
    return start, end, stores


def weekly_facts(
    reader: Reader,
    region: str,
    week: str,
    scope: kpi.Scope,
    min_group: int = kpi.MIN_GROUP,
    assumptions: impact.ImpactAssumptions | None = None,
    camera_health: bool = True,
) -> WeeklyFacts:
    """Everything the weekly report says about ``region`` in ISO ``week``.
    ``camera_health=False`` where the reader has no raw camera rows (the chain's lake):
    the health section is then empty and says so."""
    start, end, stores = check_week(reader, region, week, scope)
    a = assumptions or impact.ImpactAssumptions()
    flt = kpi.KpiFilter(start, end, tuple(stores), "day")
    daily = kpi.metrics(reader, flt, scope)
    prev = kpi.metrics(reader, impact.previous_period(flt), scope)
    comparison = kpi.store_comparison(reader, flt, scope, min_group)
    hours = (
        health.camera_hours(reader, flt, scope)
        if camera_health
        else pl.DataFrame(schema=health.HOURS_SCHEMA)
    )
    store_impact = impact.store_impact(reader, flt, scope, a)
    return WeeklyFacts(
        region=region,
        week=week,
        start=start,
        end=end,
        comparison=comparison,
        totals=kpi.totals(daily, min_group),
        totals_prev=kpi.totals(prev, min_group),
        daily=daily.select("store_id", "bucket", "visitors", "transactions", "sales"),
        funnel=funnel.period_funnel(funnel.from_metrics(daily, ["store_id", "bucket"])),
        impact=store_impact,
        impact_totals=impact.impact_totals(store_impact),
        assumptions=impact.assumptions_text(a),
        health=health.store_summary(hours),
        gaps=health.blackout_gaps(hours),
    )
