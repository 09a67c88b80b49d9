"""Stores side by side and one store's headline: every headline KPI over a period.

:func:`store_comparison` gives one row per store (totals, per opening hour, per m² and
week-over-week change); :func:`headline` one store's figures (:data:`HEADLINE_FIGURES`) as
a JSON-able dict, for the Store page and ``storelens kpi``.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from storelens.data.errors import InvalidParams
from storelens.data.kpi.definitions import change_pct, ratio, summarize
from storelens.data.kpi.scope import MIN_GROUP, KpiFilter, Scope, resolve_stores
from storelens.data.kpi.series import _STORE_KEYS, metrics
from storelens.data.reader import Reader
from storelens.data.vocabulary import METRICS
from storelens.data.vocabulary import schema as metric_schema

_METRIC_NAMES = [m.name for m in METRICS]


def _period_kpis(frame: pl.DataFrame, min_group: int) -> pl.DataFrame:
    """Collapse per-bucket metrics to one row per store with every headline KPI."""
    return summarize(frame, ["store_id"], min_group)


# Sums compared week over week per day with data: a week the history covers only partly (a
# lake published for 8 days, a new store, a camera down for days) would otherwise read
# +900 % or -85 %. Ratios (conversion, waits) are per-day-neutral already.
_WEEK_SUMS = ("visitors", "transactions", "sales")


def _week_kpis(frame: pl.DataFrame, min_group: int) -> pl.DataFrame:
    """One week's KPIs per store, its sums as a mean per day with data."""
    kpis = _period_kpis(frame, min_group)
    days = frame.group_by("store_id").agg(pl.col("bucket").dt.date().n_unique().alias("_days"))
    return (
        kpis.join(days, on="store_id", how="left")
        .with_columns(pl.col(c) / pl.col("_days") for c in _WEEK_SUMS)
        .drop("_days")
    )


def store_comparison(
    reader: Reader, flt: KpiFilter, scope: Scope, min_group: int = MIN_GROUP
) -> pl.DataFrame:
    """Every headline KPI per store over the period, per opening hour and per m², with
    week-over-week change (last 7 days of the period vs the 7 before, in %; visitors,
    transactions and sales as a mean per day with data, see :func:`_week_kpis`)."""
    stores = resolve_stores(reader, flt, scope)
    if not stores:
        return pl.DataFrame(schema={"store_id": pl.String})
    wide_start = min(flt.start, flt.end - timedelta(days=13))
    daily = metrics(
        reader, flt.with_(start=wide_start, stores=tuple(stores)), scope, granularity="day"
    )
    start_dt = datetime.combine(flt.start, datetime.min.time())
    period = _period_kpis(daily.filter(pl.col("bucket") >= start_dt), min_group)
    info = reader.query("stores", {"stores": stores}).select(
        "store_id", "name", "region", "open_hour", "close_hour", "area_m2"
    )
    days = (flt.end - flt.start).days + 1
    out = info.join(period, on="store_id", how="left").with_columns(
        pl.col(_METRIC_NAMES).fill_null(0),  # a store with no rows yet has zero, not unknown, sums
        ((pl.col("close_hour") - pl.col("open_hour")) * days).alias("open_hours"),
    )
    out = out.with_columns(
        ratio(pl.col("visitors").cast(pl.Float64), pl.col("open_hours")).alias(
            "visitors_per_open_hour"
        ),
        ratio(pl.col("sales"), pl.col("open_hours")).alias("sales_per_open_hour"),
        ratio(pl.col("transactions").cast(pl.Float64), pl.col("open_hours")).alias(
            "transactions_per_open_hour"
        ),
        (pl.col("visitors") / pl.col("area_m2")).alias("visitors_per_m2"),
        (pl.col("sales") / pl.col("area_m2")).alias("sales_per_m2"),
        (pl.col("labour_cost") / pl.col("area_m2")).alias("labour_cost_per_m2"),
    )
    end_dt = datetime.combine(flt.end, datetime.min.time())
    this_week = _week_kpis(daily.filter(pl.col("bucket") > end_dt - timedelta(days=7)), min_group)
    last_week = _week_kpis(
        daily.filter(
            (pl.col("bucket") > end_dt - timedelta(days=14))
            & (pl.col("bucket") <= end_dt - timedelta(days=7))
        ),
        min_group,
    )
    wow_cols = [
        "visitors",
        "transactions",
        "sales",
        "conversion",
        "satisfaction_index",
        "star",
        "labour_cost_per_visitor",
        "queue_wait_s_avg",
    ]
    wow = this_week.select("store_id", *wow_cols).join(
        last_week.select("store_id", *wow_cols),
        on="store_id",
        how="full",
        suffix="_prev",
        coalesce=True,
    )
    wow = wow.select(
        "store_id",
        *[change_pct(c, f"{c}_prev").alias(f"{c}_wow_pct") for c in wow_cols],
    )
    return out.join(wow, on="store_id", how="left").sort("store_id")


# The figures of :func:`headline` (the Store page and `storelens data headline`).
HEADLINE_FIGURES = (
    "visitors",
    "transactions",
    "sales",
    "conversion",
    "sales_per_visitor",
    "satisfaction_index",
    "satisfaction_low",
    "satisfaction_high",
    "faces_read",
    "tracks_readable",
    "star",
    "staff_hours",
    "labour_cost",
    "labour_cost_per_visitor",
    "labour_cost_per_transaction",
    "labour_pct_of_sales",
    "avg_dwell_s",
    "queue_length_avg",
    "queue_wait_s_avg",
    "alerts",
)


def headline(
    reader: Reader,
    store: str,
    start: date,
    end: date,
    scope: Scope | None = None,
    min_group: int = MIN_GROUP,
) -> dict[str, Any]:
    """One store's headline KPIs for a period, as a JSON-able dict."""
    scope = scope or Scope.everything()
    flt = KpiFilter(start=start, end=end, stores=(store,), granularity="day")
    resolve_stores(reader, flt, scope)  # scope first: never reveal whether a store exists
    known = reader.query("stores", {"stores": [store]})
    if known.is_empty():
        raise InvalidParams(f"store {store!r} does not exist")
    frame = metrics(reader, flt, scope)
    if frame.is_empty():
        frame = (
            pl.DataFrame({"store_id": [store]})
            .join(pl.DataFrame(schema=metric_schema(_STORE_KEYS)), on="store_id", how="left")
            .with_columns(pl.col(_METRIC_NAMES).fill_null(0))
        )
    row = _period_kpis(frame, min_group).row(0, named=True)
    out: dict[str, Any] = {"store_id": store, "from": start.isoformat(), "to": end.isoformat()}
    for key in HEADLINE_FIGURES:
        value = row[key]
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    out["min_group"] = min_group
    return out
