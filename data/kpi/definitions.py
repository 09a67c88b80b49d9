"""Each KPI defined once, as a polars expression over *summed* metric columns.

The metrics (additive rollup columns) are defined in :mod:`storelens.data.vocabulary`;
here each KPI becomes one expression over their sums (:func:`kpi_exprs`), and every grain
sums the metrics first and then applies those expressions (:func:`summarize`,
:func:`with_kpis`, :func:`totals`). Ratios are null where the denominator is 0
(:func:`ratio`). No reader, no query: pure expressions, so the lake's DuckDB and Spark
tables use them too.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from storelens.data.kpi.scope import MIN_GROUP
from storelens.data.vocabulary import aggregates


def ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    """THE ratio of two columns: null where the denominator is 0."""
    return pl.when(den > 0).then(num / den).otherwise(None)


# ------------------------------------------------------------------------- KPI definitions
#
# Each KPI is defined here once, as a polars expression over *summed* metric columns
# (data.vocabulary). Every grain (hour / day / week bucket, period, zone, zone × hour of
# day, store comparison) first sums the metrics to its own grain and then applies the same
# expression, so a KPI read at one grain equals its inputs summed from another.

# Measured queue waits are trusted where at least this share of queue joins ended in a
# measured leave; below it tracks are broken and the wait comes from Little's law
# (DESIGN.md: "wait = measured time in zone per track, Little's law where tracks are broken").
QUEUE_INTACT_SHARE = 0.8

# 95 % normal interval. Each readable track scores +1 (satisfied), 0 or −1 (frustrated)
# with its calibrated probabilities; the index is 100 × their mean, and the variance of
# one track's score is P(sat) + P(fru) − (P(sat) − P(fru))². Fine from the minimum group
# of 5 up (the score is bounded, so the mean is near-normal quickly); clipped to ±100.
Z95 = 1.96


def satisfaction_exprs(min_group: int) -> list[pl.Expr]:
    """THE satisfaction index, with its interval and sample size, from summed columns.

    Needs ``tracks_readable`` and the expected counts ``satisfied`` / ``frustrated``;
    every grain (hour, day, period, zone, zone × hour of day, store comparison) uses
    this one definition. Null (hidden) where fewer than ``min_group`` tracks count.
    """
    n = pl.col("tracks_readable").cast(pl.Float64)
    share_sat = pl.col("satisfied") / n
    share_fru = pl.col("frustrated") / n
    mean = share_sat - share_fru
    half = Z95 * ((share_sat + share_fru - mean * mean).clip(lower_bound=0.0) / n).sqrt()
    shown = pl.col("tracks_readable") >= min_group
    return [
        pl.when(shown).then(100.0 * mean).otherwise(None).alias("satisfaction_index"),
        pl.when(shown)
        .then((100.0 * (mean - half)).clip(-100.0, 100.0))
        .otherwise(None)
        .alias("satisfaction_low"),
        pl.when(shown)
        .then((100.0 * (mean + half)).clip(-100.0, 100.0))
        .otherwise(None)
        .alias("satisfaction_high"),
    ]


def queue_wait_exprs(intact_share: float = QUEUE_INTACT_SHARE) -> list[pl.Expr]:
    """THE queue wait: measured, by Little's law, the one shown and which one it is.

    ``wait_measured_s`` is the mean measured wait (queue_leave values); ``wait_littles_s``
    = L / λ with λ = joins per sampled hour: (Σ hourly L / hours) / (joins / (hours ·
    3600 s)) = Σ L · 3600 / joins. ``queue_wait_s_avg`` takes the measured wait where at
    least ``intact_share`` of the joins ended in a measured leave, else Little's law; null
    where nobody joined a queue. ``wait_method`` says which.
    """
    joins = pl.col("queue_joins")
    measured = ratio(pl.col("queue_wait_s"), pl.col("queue_leaves"))
    littles = ratio(pl.col("queue_length_sum") * 3600.0, joins)
    trusted = (pl.col("queue_leaves") >= intact_share * joins) & measured.is_not_null()
    nobody = joins == 0
    return [
        measured.alias("wait_measured_s"),
        littles.alias("wait_littles_s"),
        pl.when(nobody)
        .then(None)
        .when(trusted)
        .then(measured)
        .otherwise(littles)
        .alias("queue_wait_s_avg"),
        pl.when(nobody)
        .then(None)
        .when(trusted)
        .then(pl.lit("measured"))
        .otherwise(pl.lit("littles_law"))
        .alias("wait_method"),
    ]


def change_pct(now: str, before: str) -> pl.Expr:
    """THE period-over-period change (week over week): 100 × (now − before) / |before|,
    null where ``before`` is 0 or unknown."""
    return ratio(100.0 * (pl.col(now) - pl.col(before)), pl.col(before).abs())


def kpi_exprs(
    min_group: int = MIN_GROUP, intact_share: float = QUEUE_INTACT_SHARE
) -> dict[str, pl.Expr]:
    """Every KPI by its column name (DESIGN.md "KPI definitions"); ratios are null where
    the denominator is 0. Occupancy (a clipped running sum) and staffing are not ratios of
    sums and have their own functions below."""
    visitors = pl.col("visitors")
    labour = pl.col("labour_cost")
    exprs = [
        ratio(pl.col("transactions"), visitors).alias("conversion"),
        ratio(pl.col("sales"), visitors).alias("sales_per_visitor"),
        *satisfaction_exprs(min_group),
        ratio(pl.col("tracks_readable").cast(pl.Float64), pl.col("tracks_total")).alias(
            "faces_read"
        ),
        ratio(visitors.cast(pl.Float64), pl.col("staff_hours")).alias("star"),
        ratio(labour, visitors).alias("labour_cost_per_visitor"),
        ratio(labour, pl.col("transactions")).alias("labour_cost_per_transaction"),
        ratio(100.0 * labour, pl.col("sales")).alias("labour_pct_of_sales"),
        ratio(pl.col("dwell_seconds"), pl.col("dwell_visits")).alias("avg_dwell_s"),
        ratio(pl.col("queue_length_sum"), pl.col("queue_sampled_hours")).alias("queue_length_avg"),
        *queue_wait_exprs(intact_share),
    ]
    return {e.meta.output_name(): e for e in exprs}


def with_kpis(
    frame: pl.DataFrame, min_group: int = MIN_GROUP, intact_share: float = QUEUE_INTACT_SHARE
) -> pl.DataFrame:
    """``frame`` (summed metric columns) plus every KPI those columns allow: a zone frame,
    which has no visitors or sales, gets satisfaction, dwell and queue but no conversion."""
    have = set(frame.columns)
    return frame.with_columns(
        e for e in kpi_exprs(min_group, intact_share).values() if set(e.meta.root_names()) <= have
    )


def summarize(
    frame: pl.DataFrame,
    by: list[str | pl.Expr],
    min_group: int = MIN_GROUP,
    intact_share: float = QUEUE_INTACT_SHARE,
) -> pl.DataFrame:
    """Sum the metric columns of ``frame`` over ``by`` (each by its own aggregate: a sum,
    or the max of a peak), then add the KPIs: how any grain is made from a finer one."""
    summed = frame.group_by(*by).agg(aggregates(frame.columns))
    return with_kpis(summed, min_group, intact_share)


def totals(frame: pl.DataFrame, min_group: int = MIN_GROUP) -> dict[str, Any]:
    """All rows of ``frame`` (e.g. every store of :func:`store_comparison`) as one: the
    summed metrics and their KPIs, so a chain's conversion is its transactions over its
    visitors, never a mean of store ratios. Zero sums where ``frame`` is empty."""
    return with_kpis(frame.select(aggregates(frame.columns)), min_group).row(0, named=True)


def _kpi(name: str, min_group: int = MIN_GROUP) -> pl.Expr:
    """One KPI's expression, from :func:`kpi_exprs`."""
    return kpi_exprs(min_group)[name]
