"""€ impact: sales lost to checkout queues and staffing cost over / under plan.

Both are estimates, so they travel with their assumptions (:class:`ImpactAssumptions`,
:func:`assumptions_text`) and every page or report that shows a figure shows those too.

**Sales lost to queues**, per store over a period, from its opening hours:

- the hours are split by the hour's checkout wait (THE wait of
  :func:`storelens.data.kpi.queue_wait_exprs`): over the target, or at / under it; hours
  where nobody queued or no traffic was recorded are in neither group;
- conversion of each group = its transactions / its visitors (a ratio of sums);
- lost transactions = max(0, conversion under − conversion over) × visitors in the hours
  over the target: what those shoppers would have bought converting like the calm hours;
- lost sales = lost transactions × the period's average basket (sales / transactions).

Null, with the reason in ``note``, where there are fewer than ``min_hours`` slow hours or no
transactions were imported; a store with fewer than ``min_hours`` calm hours of its own
(queues all day) is compared with the calm hours of every store in the frame, noted.
This is a comparison of hours, not an experiment: busy hours differ from quiet ones in
more than the queue, which the assumptions say.

**Staffing cost over / under plan**: :func:`storelens.data.kpi.staffing` (recommended
staff per opening hour from forecast traffic, STAR and Erlang C at the same wait target)
against the imported shifts; ``staff_cost_over`` is what the hours staffed above the
recommendation cost, ``staff_cost_under`` what closing the gap in the short hours would
cost, each at the store's observed hourly rate.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from storelens.data import kpi
from storelens.data.reader import Reader


class ImpactAssumptions(BaseModel):
    """What the € figures assume; every field bounded, shown next to the figures."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_wait_s: float = Field(
        120.0, ge=10, le=3600, description="checkout wait target (s): hours over it are 'slow'"
    )
    min_hours: int = Field(
        3, ge=1, le=10_000, description="fewest hours on each side of the target to compare"
    )
    target_star: float = Field(
        25.0, gt=0, le=1000, description="visitors per staff hour the plan aims at"
    )
    hourly_cost: float = Field(
        20.0, gt=0, le=1000, description="€ per staff hour where no shift data gives a rate"
    )

    def staffing_targets(self) -> kpi.StaffingTargets:
        return kpi.StaffingTargets(
            target_star=self.target_star,
            target_wait_s=self.target_wait_s,
            default_hourly_cost=self.hourly_cost,
        )


def assumptions_text(a: ImpactAssumptions) -> list[str]:
    """The assumptions in words, one line each (pages and the weekly report print them)."""
    return [
        f"Queue target: an hour is slow when its mean checkout wait is over "
        f"{a.target_wait_s:.0f} s.",
        "Lost sales = (conversion in hours at or under the target − conversion in slow "
        "hours) × visitors in slow hours × the period's average basket (sales ÷ "
        "transactions); never below 0.",
        f"Shown only where a store has at least {a.min_hours} slow opening hours; a store "
        f"with fewer than {a.min_hours} calm hours of its own is compared with the calm "
        "hours of all stores shown. Hours without a queue or visitors count on neither side.",
        "Slow hours are also busy hours: part of the conversion gap may come from the "
        "crowd, not the queue, so read it as an upper estimate.",
        f"Staffing plan: recommended staff per opening hour = max(visitors ÷ "
        f"{a.target_star:.0f} (STAR), Erlang C checkout staff for a {a.target_wait_s:.0f} s "
        "wait, 1), from the mean traffic of the same weekday and hour over the previous 4 "
        "weeks; cost at the store's observed € per staff hour "
        f"(€{a.hourly_cost:.2f} where no shifts are imported).",
    ]


QUEUE_SCHEMA = {
    "store_id": pl.String,
    "hours_over": pl.Int64,
    "hours_under": pl.Int64,
    "visitors_over": pl.Int64,
    "conversion_over": pl.Float64,
    "conversion_under": pl.Float64,
    "avg_basket": pl.Float64,
    "lost_transactions": pl.Float64,
    "lost_sales": pl.Float64,
    "note": pl.String,
}


def hourly_queue_frame(
    reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope, a: ImpactAssumptions
) -> pl.DataFrame:
    """Per store and hour: visitors, transactions, sales, the wait and ``slow`` (over the
    target; null where the hour had no queue or no traffic)."""
    # The wait comes from kpi.with_kpis, the one definition of every KPI (also on an empty
    # frame, so the columns are there either way).
    hourly = kpi.with_kpis(kpi.metrics(reader, flt.with_(granularity="hour"), scope))
    if hourly.is_empty():
        return hourly.with_columns(pl.lit(None, pl.Boolean).alias("slow"))
    usable = (
        pl.col("queue_wait_s_avg").is_not_null()
        & pl.col("visitors").is_not_null()
        & (pl.col("visitors") > 0)
    )
    return hourly.with_columns(
        pl.when(usable)
        .then(pl.col("queue_wait_s_avg") > a.target_wait_s)
        .otherwise(None)
        .alias("slow")
    )


def queue_loss(
    reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope, a: ImpactAssumptions | None = None
) -> pl.DataFrame:
    """Sales lost to queues per store over ``flt``'s days (see the module text)."""
    a = a or ImpactAssumptions()
    hourly = hourly_queue_frame(reader, flt, scope, a)
    if hourly.is_empty():
        return pl.DataFrame(schema=QUEUE_SCHEMA)
    slow, calm = pl.col("slow").fill_null(False), pl.col("slow").eq(False).fill_null(False)
    per = hourly.group_by("store_id").agg(
        slow.sum().cast(pl.Int64).alias("hours_over"),
        calm.sum().cast(pl.Int64).alias("hours_under"),
        pl.col("visitors").filter(slow).sum().cast(pl.Int64).alias("visitors_over"),
        pl.col("transactions").filter(slow).sum().alias("_tx_over"),
        pl.col("visitors").filter(calm).sum().alias("_vis_under"),
        pl.col("transactions").filter(calm).sum().alias("_tx_under"),
        pl.col("sales").sum().alias("_sales"),
        pl.col("transactions").sum().alias("_tx"),
    )
    ratio = kpi.ratio  # the one "null where the denominator is 0"
    per = per.with_columns(
        ratio(pl.col("_tx_over").cast(pl.Float64), pl.col("visitors_over")).alias(
            "conversion_over"
        ),
        ratio(pl.col("_tx_under").cast(pl.Float64), pl.col("_vis_under")).alias("conversion_under"),
        ratio(pl.col("_sales"), pl.col("_tx")).alias("avg_basket"),
    )
    # A store with too few calm hours of its own (queues all day) is compared with the
    # calm hours of every store in the frame, and says so.
    pooled_vis = per["_vis_under"].sum()
    pooled = float(per["_tx_under"].sum()) / pooled_vis if pooled_vis else None
    own = pl.col("hours_under") >= a.min_hours
    pooled_ok = pl.lit(pooled is not None) & (pl.col("hours_under") < a.min_hours)
    per = per.with_columns(
        pl.when(own)
        .then(pl.col("conversion_under"))
        .when(pooled_ok)
        .then(pl.lit(pooled, pl.Float64))
        .otherwise(None)
        .alias("conversion_under")
    )
    known = (
        (pl.col("hours_over") >= a.min_hours)
        & pl.col("conversion_under").is_not_null()
        & pl.col("avg_basket").is_not_null()
    )
    lost_tx = (pl.col("conversion_under") - pl.col("conversion_over")).clip(
        lower_bound=0.0
    ) * pl.col("visitors_over")
    per = per.with_columns(
        pl.when(known).then(lost_tx).otherwise(None).alias("lost_transactions"),
        pl.when(known).then(lost_tx * pl.col("avg_basket")).otherwise(None).alias("lost_sales"),
        pl.when(pl.col("hours_over") < a.min_hours)
        .then(pl.format("only {} slow hour(s): too few to compare", "hours_over"))
        .when(pl.col("avg_basket").is_null())
        .then(pl.lit("no sales imported: no basket to value"))
        .when(pooled_ok)
        .then(
            pl.format(
                "only {} hour(s) under the target: compared with every store's calm hours",
                "hours_under",
            )
        )
        .otherwise(None)
        .alias("note"),
    )
    return per.select(list(QUEUE_SCHEMA)).sort("store_id")


def staffing_cost(
    reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope, a: ImpactAssumptions | None = None
) -> pl.DataFrame:
    """Per store: hours and € staffed over / under the recommendation (kpi.staffing)."""
    a = a or ImpactAssumptions()
    frame = kpi.staffing(reader, flt.with_(granularity="hour"), scope, a.staffing_targets())
    summary = kpi.staffing_summary(frame)
    return summary.rename(
        {
            "hours_over": "staff_hours_over",
            "hours_under": "staff_hours_under",
            "cost_over": "staff_cost_over",
            "cost_under": "staff_cost_under",
        }
    ).with_columns(pl.col("staff_hours_over", "staff_hours_under").cast(pl.Int64))


def store_impact(
    reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope, a: ImpactAssumptions | None = None
) -> pl.DataFrame:
    """Per store: :func:`queue_loss` and :func:`staffing_cost` side by side."""
    a = a or ImpactAssumptions()
    queue = queue_loss(reader, flt, scope, a)
    staff = staffing_cost(reader, flt, scope, a)
    if queue.is_empty():
        return queue.join(staff, on="store_id", how="left")
    return queue.join(staff, on="store_id", how="left").sort("store_id")


def impact_totals(frame: pl.DataFrame) -> dict[str, Any]:
    """The chain's € figures: sums over the stores of :func:`store_impact` (stores with no
    figure add nothing; ``stores_valued`` says how many had one)."""
    if frame.is_empty():
        return {
            "lost_sales": 0.0,
            "staff_cost_over": 0.0,
            "staff_cost_under": 0.0,
            "stores_valued": 0,
            "stores": 0,
        }
    return {
        "lost_sales": float(frame["lost_sales"].fill_null(0).sum()),
        "staff_cost_over": float(frame["staff_cost_over"].fill_null(0).sum()),
        "staff_cost_under": float(frame["staff_cost_under"].fill_null(0).sum()),
        "stores_valued": int(frame["lost_sales"].is_not_null().sum()),
        "stores": frame.height,
    }


def previous_period(flt: kpi.KpiFilter) -> kpi.KpiFilter:
    """The period of the same length just before ``flt`` ("compared to when?")."""
    days = (flt.end - flt.start).days + 1
    return flt.with_(start=flt.start - timedelta(days=days), end=flt.start - timedelta(days=1))
