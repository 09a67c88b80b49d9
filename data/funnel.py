"""The shopper funnel per store and day: traffic → zone visits → queue joins → transactions.

Each step is an additive rollup metric (:mod:`storelens.data.vocabulary`), so the funnel of
any period is the sum of its days and reads the same locally, through the read API or from
the chain's lake. ``drop_*`` is the share lost between a step and the one before it
(1 − step / previous), null where the previous step is 0 or unknown.

Zone visits count visits of at least 5 s to any zone (DESIGN.md "dwell"): a shopper who
browses two zones counts twice, so that step can exceed traffic and its drop-off can be
negative. It is shown as measured, never clipped: a negative drop-off says shoppers browse
more than one zone, which is worth knowing.
"""

from __future__ import annotations

import itertools
from typing import Any

import polars as pl
from storelens.data import kpi
from storelens.data.reader import Reader

# (column in the funnel frame, rollup metric it sums, label)
STEPS: tuple[tuple[str, str, str], ...] = (
    ("traffic", "visitors", "Traffic"),
    ("zone_visits", "dwell_visits", "Zone visits"),
    ("queue_joins", "queue_joins", "Queue joins"),
    ("transactions", "transactions", "Transactions"),
)
STEP_COLUMNS = tuple(c for c, _, _ in STEPS)
DROP_COLUMNS = tuple(f"drop_{c}" for c in STEP_COLUMNS[1:])

_SCHEMA = {
    "store_id": pl.String,
    "bucket": pl.Datetime("us"),
    **{c: pl.Int64 for c in STEP_COLUMNS},
    **{c: pl.Float64 for c in DROP_COLUMNS},
    "overall": pl.Float64,
}


def _with_drops(frame: pl.DataFrame) -> pl.DataFrame:
    exprs = []
    for prev, step in itertools.pairwise(STEP_COLUMNS):
        den = pl.col(prev).cast(pl.Float64)
        exprs.append(
            pl.when(den > 0).then(1.0 - pl.col(step) / den).otherwise(None).alias(f"drop_{step}")
        )
    den = pl.col("traffic").cast(pl.Float64)
    exprs.append(
        pl.when(den > 0).then(pl.col("transactions") / den).otherwise(None).alias("overall")
    )
    return frame.with_columns(exprs)


def from_metrics(metrics: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """The funnel of a metrics frame (:func:`storelens.data.kpi.metrics`) summed over
    ``by``; a null step (an hour the lake never got) stays null, never 0."""
    if metrics.is_empty():
        keys = {k: metrics.schema[k] for k in by}
        rest = {k: v for k, v in _SCHEMA.items() if k not in ("store_id", "bucket")}
        return pl.DataFrame(schema={**keys, **rest})
    summed = metrics.group_by(by).agg(
        # min_count: a step whose every row is null (missing data) is unknown, not 0.
        pl.when(pl.col(metric).is_not_null().any())
        .then(pl.col(metric).sum())
        .otherwise(None)
        .cast(pl.Int64)
        .alias(column)
        for column, metric, _ in STEPS
    )
    return _with_drops(summed).sort(by)


def store_day_funnel(reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope) -> pl.DataFrame:
    """One row per store and store-local day of ``flt``: the four steps, the drop-off at
    each step and ``overall`` (transactions / traffic). Scope as every KPI."""
    daily = kpi.metrics(reader, flt.with_(granularity="day"), scope)
    if daily.is_empty():
        return pl.DataFrame(schema=_SCHEMA)
    return from_metrics(daily, ["store_id", "bucket"]).select(list(_SCHEMA))


def period_funnel(frame: pl.DataFrame) -> pl.DataFrame:
    """Per store over the whole period, from :func:`store_day_funnel` (or any frame with
    the step columns)."""
    if frame.is_empty():
        return pl.DataFrame(schema={k: v for k, v in _SCHEMA.items() if k != "bucket"})
    summed = frame.group_by("store_id").agg(pl.col(list(STEP_COLUMNS)).sum())
    return _with_drops(summed).sort("store_id")


def steps_long(row: dict[str, Any]) -> pl.DataFrame:
    """One funnel (a row of the frames above) as one row per step, for a funnel chart:
    step label, count, share of traffic and drop-off from the step before."""
    traffic = row.get("traffic") or 0
    out = []
    for i, (column, _, label) in enumerate(STEPS):
        count = row.get(column)
        out.append(
            {
                "step": label,
                "count": count,
                "share_of_traffic": (count / traffic) if traffic and count is not None else None,
                "drop": row.get(f"drop_{column}") if i else None,
            }
        )
    return pl.DataFrame(
        out,
        schema={
            "step": pl.String,
            "count": pl.Int64,
            "share_of_traffic": pl.Float64,
            "drop": pl.Float64,
        },
    )


def funnel_list(table: pl.DataFrame) -> pl.Series:
    """The steps of each row of a store comparison (:func:`storelens.data.kpi.store_comparison`
    carries the summed metrics) as a list per store, for a bar-chart cell in Compare."""
    metrics = [metric for _, metric, _ in STEPS]
    if not set(metrics) <= set(table.columns):
        return pl.Series("funnel", [None] * table.height, dtype=pl.List(pl.Int64))
    return table.select(
        pl.concat_list(pl.col(m).cast(pl.Int64) for m in metrics).alias("funnel")
    ).to_series()
