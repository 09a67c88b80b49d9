"""KPI series per store and bucket (per zone where asked): traffic, sales, satisfaction,
alerts and staff, each as a polars frame read through the named queries.

Every function takes a :class:`~storelens.data.reader.Reader`, a
:class:`~storelens.data.kpi.scope.KpiFilter` and a :class:`~storelens.data.kpi.scope.Scope`.
Frames have ``store_id`` and ``bucket`` (store-local wall clock, start of the hour / day /
ISO week) followed by the KPI's columns, each KPI taken from
:mod:`storelens.data.kpi.definitions`. All read the hourly rollups through named queries,
so the same code runs on a local file, through the writer's read API or on the lake.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import polars as pl
from storelens.data.errors import InvalidParams
from storelens.data.kpi.definitions import (
    QUEUE_INTACT_SHARE,
    _kpi,
    queue_wait_exprs,
    satisfaction_exprs,
)
from storelens.data.kpi.scope import MIN_GROUP, Granularity, KpiFilter, Scope, resolve_stores
from storelens.data.reader import Reader
from storelens.data.vocabulary import schema as metric_schema

_STORE_KEYS = {"store_id": pl.String, "bucket": pl.Datetime("us")}
_ZONE_KEYS = {"store_id": pl.String, "zone": pl.String, "bucket": pl.Datetime("us")}


def metrics(
    reader: Reader, flt: KpiFilter, scope: Scope, granularity: Granularity | None = None
) -> pl.DataFrame:
    """All additive rollup columns per store and bucket (the input of most KPIs)."""
    stores = resolve_stores(reader, flt, scope)
    if not stores:
        return pl.DataFrame(schema=metric_schema(_STORE_KEYS))
    return reader.query(
        "metrics",
        {
            "stores": stores,
            "start": flt.start,
            "end": flt.end,
            "granularity": granularity or flt.granularity,
        },
    )


def zone_metrics(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    stores = resolve_stores(reader, flt, scope)
    if not stores:
        return pl.DataFrame(schema=metric_schema(_ZONE_KEYS, by_zone=True))
    return reader.query(
        "zone_metrics",
        {"stores": stores, "start": flt.start, "end": flt.end, "granularity": flt.granularity},
    )


def _keys(by_zone: bool = False) -> list[str]:
    return ["store_id", "zone", "bucket"] if by_zone else ["store_id", "bucket"]


# ------------------------------------------------------------------------- traffic


def visitors(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """Distinct tracks crossing an entrance line inward, per store and bucket."""
    return metrics(reader, flt, scope).select("store_id", "bucket", "visitors")


def occupancy(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """People inside: inward minus outward crossings, never below 0, reset every local day.

    Computed per hour (end-of-hour value) and summarised per bucket as the mean and the
    peak of the hourly values.
    """
    hourly = metrics(reader, flt, scope, granularity="hour").sort("store_id", "bucket")
    day = pl.col("bucket").dt.date()
    net = (pl.col("visitors") - pl.col("exits")).cum_sum().over("store_id", day)
    hourly = hourly.with_columns(net.alias("_s")).with_columns(
        # A running sum clipped at 0 equals the raw running sum minus its running minimum
        # (when negative): the clip absorbs exits of people who entered before opening.
        (pl.col("_s") - pl.min_horizontal(pl.col("_s").cum_min().over("store_id", day), 0)).alias(
            "occupancy"
        )
    )
    bucket = _truncate(pl.col("bucket"), flt.granularity)
    return (
        hourly.group_by("store_id", bucket.alias("bucket"))
        .agg(
            pl.col("occupancy").mean().alias("occupancy_avg"),
            pl.col("occupancy").max().alias("occupancy_peak"),
        )
        .sort("store_id", "bucket")
    )


def _truncate(expr: pl.Expr, granularity: str) -> pl.Expr:
    return {"hour": expr, "day": expr.dt.truncate("1d"), "week": expr.dt.truncate("1w")}[
        granularity
    ]


def dwell(reader: Reader, flt: KpiFilter, scope: Scope, by_zone: bool = False) -> pl.DataFrame:
    """Zone visits of at least 5 s and their mean duration (per zone if ``by_zone``)."""
    frame = zone_metrics(reader, flt, scope) if by_zone else metrics(reader, flt, scope)
    return frame.select(
        *_keys(by_zone),
        "dwell_visits",
        _kpi("avg_dwell_s"),
    )


def queue(
    reader: Reader,
    flt: KpiFilter,
    scope: Scope,
    by_zone: bool = False,
    intact_share: float = QUEUE_INTACT_SHARE,
) -> pl.DataFrame:
    """Queue length and wait per bucket (per zone if ``by_zone``).

    ``queue_length_avg`` is the mean of sampled lengths (summed over queue zones); the
    waits and ``wait_method`` are those of :func:`queue_wait_exprs`, ``wait_s`` being the
    one shown (``queue_wait_s_avg`` at the period grain).
    """
    frame = zone_metrics(reader, flt, scope) if by_zone else metrics(reader, flt, scope)
    measured, littles, shown, method = queue_wait_exprs(intact_share)
    return frame.select(
        *_keys(by_zone),
        _kpi("queue_length_avg"),
        *(["queue_length_max"] if not by_zone else []),
        "queue_joins",
        measured,
        littles,
        shown.alias("wait_s"),
        method,
    )


# ------------------------------------------------------------------------- sales


def conversion(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """Transactions / visitors."""
    return metrics(reader, flt, scope).select(
        "store_id",
        "bucket",
        "visitors",
        "transactions",
        _kpi("conversion"),
    )


def sales_per_visitor(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """Sales / visitors."""
    return metrics(reader, flt, scope).select(
        "store_id",
        "bucket",
        "visitors",
        "sales",
        _kpi("sales_per_visitor"),
    )


# ------------------------------------------------------------------------- satisfaction


def _satisfaction_columns(min_group: int) -> list[pl.Expr]:
    return [
        pl.col("tracks_total", "tracks_readable", "satisfied", "neutral", "frustrated"),
        _kpi("faces_read"),
        *satisfaction_exprs(min_group),
    ]


def satisfaction(
    reader: Reader,
    flt: KpiFilter,
    scope: Scope,
    min_group: int = MIN_GROUP,
    by_zone: bool = False,
) -> pl.DataFrame:
    """100 × (expected satisfied − expected frustrated) / tracks with a readable face.

    Null (not shown) where fewer than ``min_group`` tracks contribute; ``faces_read`` is the
    share of tracks whose face could be read; ``satisfaction_low`` / ``_high`` the 95 %
    interval and ``tracks_readable`` the sample size (see :func:`satisfaction_exprs`).
    """
    if min_group < 1:
        raise InvalidParams(f"min_group must be >= 1, got {min_group}")
    frame = zone_metrics(reader, flt, scope) if by_zone else metrics(reader, flt, scope)
    return frame.select(*_keys(by_zone), *_satisfaction_columns(min_group))


def frustration_alerts(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """Alerts raised (frustrated shopper in a queue / checkout zone, long queue wait)."""
    return metrics(reader, flt, scope).select("store_id", "bucket", "alerts")


def alert_list(
    reader: Reader,
    scope: Scope,
    stores: list[str] | None = None,
    since: datetime | None = None,
    only_open: bool = False,
    limit: int = 200,
) -> pl.DataFrame:
    """The alerts themselves, newest first (for acknowledgement)."""
    flt = KpiFilter(start=date.today(), end=date.today(), stores=tuple(stores or ()))
    allowed = resolve_stores(reader, flt, scope)
    since = since or datetime.now() - timedelta(days=1)
    return reader.query(
        "alerts",
        {"stores": allowed or ["\x00none"], "since": since, "only_open": only_open, "limit": limit},
    )


# ------------------------------------------------------------------------- staff


def star(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """Shopper-to-associate ratio: visitors / staff hours."""
    return metrics(reader, flt, scope).select(
        "store_id",
        "bucket",
        "visitors",
        "staff_hours",
        _kpi("star"),
    )


def labour_cost(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """Labour cost per visitor, per transaction and as % of sales."""
    return metrics(reader, flt, scope).select(
        "store_id",
        "bucket",
        "staff_hours",
        "labour_cost",
        _kpi("labour_cost_per_visitor"),
        _kpi("labour_cost_per_transaction"),
        _kpi("labour_pct_of_sales"),
    )
