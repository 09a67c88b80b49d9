"""Staffing: how many people each opening hour needs, and what the difference costs.

Recommended staff per hour = the most of the STAR target (visitors per staff hour), the
Erlang C checkout servers for a target wait, and a floor; compared with the scheduled
staff hours (:func:`staffing`, :func:`staffing_summary`). The Erlang C functions are plain
queueing maths, used by the rota planner as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import polars as pl
from storelens.data.errors import InvalidParams
from storelens.data.kpi.scope import KpiFilter, Scope, resolve_stores
from storelens.data.kpi.series import metrics
from storelens.data.reader import Reader


@dataclass(frozen=True)
class StaffingTargets:
    target_star: float = 25.0  # visitors per staff hour
    target_wait_s: float = 120.0  # mean checkout wait (Erlang C)
    service_time_s: float = 90.0  # mean checkout service time per transaction
    min_staff: int = 1  # during opening hours
    default_hourly_cost: float = 20.0  # where no shift data gives a rate
    basis: Literal["forecast", "actual"] = "forecast"
    history_weeks: int = 4  # forecast = mean of the same weekday and hour over these weeks
    extra: dict[str, Any] = field(default_factory=dict)


def erlang_c_wait_probability(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits (Erlang C), for ``servers`` > ``offered_load``."""
    if servers <= offered_load:
        return 1.0
    blocking = 1.0  # Erlang B by the stable recursion B(k) = A·B(k−1) / (k + A·B(k−1))
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return servers * blocking / (servers - offered_load * (1.0 - blocking))


def erlang_c_mean_wait_s(servers: int, arrivals_per_hour: float, service_time_s: float) -> float:
    """Mean wait in queue (seconds) of an M/M/c queue; inf when unstable."""
    load = arrivals_per_hour * service_time_s / 3600.0
    if servers <= load:
        return math.inf
    return erlang_c_wait_probability(servers, load) * service_time_s / (servers - load)


def erlang_c_servers(
    arrivals_per_hour: float, service_time_s: float, target_wait_s: float, max_servers: int = 200
) -> int:
    """Fewest servers whose mean queue wait is at most ``target_wait_s`` (0 if no arrivals)."""
    if arrivals_per_hour <= 0:
        return 0
    load = arrivals_per_hour * service_time_s / 3600.0
    servers = max(1, math.floor(load) + 1)
    while servers <= max_servers:
        if erlang_c_mean_wait_s(servers, arrivals_per_hour, service_time_s) <= target_wait_s:
            return servers
        servers += 1
    raise InvalidParams(
        f"no staffing up to {max_servers} meets a {target_wait_s} s wait at "
        f"{arrivals_per_hour}/h × {service_time_s} s"
    )


def _open_hours(reader: Reader, stores: list[str]) -> pl.DataFrame:
    return reader.query("stores", {"stores": stores}).select(
        "store_id", "open_hour", "close_hour", "area_m2"
    )


def staffing(
    reader: Reader,
    flt: KpiFilter,
    scope: Scope,
    targets: StaffingTargets | None = None,
) -> pl.DataFrame:
    """Recommended staff per opening hour vs scheduled, and the cost of the difference.

    recommended = max(ceil(visitors / target STAR), Erlang C checkout servers for the
    hour's transactions at ``service_time_s`` and ``target_wait_s``, ``min_staff``), from
    forecast traffic (mean of the same weekday and hour over the previous
    ``history_weeks`` weeks; the actual hour where no history exists) or actual traffic.
    ``diff_staff`` = scheduled − recommended; hours with diff >= 1 are ``over``, <= −1
    ``under``; ``cost_diff`` = diff × the store's mean hourly labour rate.
    """
    t = targets or StaffingTargets()
    stores = resolve_stores(reader, flt, scope)
    schema = {
        "store_id": pl.String,
        "bucket": pl.Datetime("us"),
        "visitors_basis": pl.Float64,
        "transactions_basis": pl.Float64,
        "scheduled_staff": pl.Float64,
        "star_staff": pl.Int64,
        "checkout_staff": pl.Int64,
        "recommended_staff": pl.Int64,
        "diff_staff": pl.Float64,
        "status": pl.String,
        "cost_diff": pl.Float64,
    }
    if not stores:
        return pl.DataFrame(schema=schema)
    hourly = metrics(reader, flt.with_(stores=tuple(stores)), scope, granularity="hour")
    hours = _open_hours(reader, stores)
    # Every opening hour of every day, even those with no rows yet.
    days = pl.date_range(flt.start, flt.end, "1d", eager=True).alias("day")
    grid = (
        hours.join(pl.DataFrame(days), how="cross")
        .with_columns(pl.int_ranges("open_hour", "close_hour").alias("h"))
        .explode("h")
        .select(
            "store_id",
            (pl.col("day").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("h"))).alias(
                "bucket"
            ),
        )
    )
    frame = grid.join(
        hourly.select(
            "store_id", "bucket", "visitors", "transactions", "staff_hours", "labour_cost"
        ),
        on=["store_id", "bucket"],
        how="left",
    ).with_columns(pl.col("visitors", "transactions", "staff_hours", "labour_cost").fill_null(0))
    if t.basis == "forecast":
        hist_flt = flt.with_(
            start=flt.start - timedelta(weeks=t.history_weeks),
            end=flt.start - timedelta(days=1),
            stores=tuple(stores),
        )
        history = metrics(reader, hist_flt, scope, granularity="hour")
        profile = history.group_by(
            "store_id",
            pl.col("bucket").dt.weekday().alias("wd"),
            pl.col("bucket").dt.hour().alias("hr"),
        ).agg(
            (pl.col("visitors").sum() / t.history_weeks).alias("f_visitors"),
            (pl.col("transactions").sum() / t.history_weeks).alias("f_transactions"),
        )
        frame = (
            frame.with_columns(
                pl.col("bucket").dt.weekday().alias("wd"), pl.col("bucket").dt.hour().alias("hr")
            )
            .join(profile, on=["store_id", "wd", "hr"], how="left")
            .with_columns(
                pl.coalesce("f_visitors", pl.col("visitors").cast(pl.Float64)).alias(
                    "visitors_basis"
                ),
                pl.coalesce("f_transactions", pl.col("transactions").cast(pl.Float64)).alias(
                    "transactions_basis"
                ),
            )
            .drop("wd", "hr", "f_visitors", "f_transactions")
        )
    else:
        frame = frame.with_columns(
            pl.col("visitors").cast(pl.Float64).alias("visitors_basis"),
            pl.col("transactions").cast(pl.Float64).alias("transactions_basis"),
        )
    rates = frame.group_by("store_id").agg(
        (pl.col("labour_cost").sum() / pl.col("staff_hours").sum()).alias("rate")
    )
    frame = frame.join(rates, on="store_id", how="left").with_columns(
        pl.when(pl.col("rate").is_finite() & (pl.col("rate") > 0))
        .then(pl.col("rate"))
        .otherwise(t.default_hourly_cost)
        .alias("rate")
    )
    checkout = [
        erlang_c_servers(tx, t.service_time_s, t.target_wait_s)
        for tx in frame["transactions_basis"].to_list()
    ]
    frame = (
        frame.with_columns(
            (pl.col("visitors_basis") / t.target_star).ceil().cast(pl.Int64).alias("star_staff"),
            pl.Series("checkout_staff", checkout, dtype=pl.Int64),
            pl.col("staff_hours").alias("scheduled_staff"),
        )
        .with_columns(
            pl.max_horizontal("star_staff", "checkout_staff", pl.lit(t.min_staff, pl.Int64)).alias(
                "recommended_staff"
            )
        )
        .with_columns((pl.col("scheduled_staff") - pl.col("recommended_staff")).alias("diff_staff"))
        .with_columns(
            pl.when(pl.col("diff_staff") >= 1)
            .then(pl.lit("over"))
            .when(pl.col("diff_staff") <= -1)
            .then(pl.lit("under"))
            .otherwise(pl.lit("ok"))
            .alias("status"),
            (pl.col("diff_staff") * pl.col("rate")).alias("cost_diff"),
        )
    )
    return frame.select(list(schema)).sort("store_id", "bucket")


def staffing_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Per store: hours over/under-staffed and what the difference costs (from staffing())."""
    return (
        frame.group_by("store_id")
        .agg(
            (pl.col("status") == "over").sum().alias("hours_over"),
            (pl.col("status") == "under").sum().alias("hours_under"),
            pl.col("cost_diff").filter(pl.col("status") == "over").sum().alias("cost_over"),
            pl.col("cost_diff").filter(pl.col("status") == "under").sum().abs().alias("cost_under"),
        )
        .sort("store_id")
    )
