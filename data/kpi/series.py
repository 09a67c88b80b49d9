"""KPIs as polars frames, each defined as in DESIGN.md "KPI definitions".

Every KPI takes a :class:`~data.reader.Reader`, a :class:`KpiFilter` (stores, an inclusive
range of *store-local* days, granularity hour/day/week) and a :class:`Scope` (the stores
the caller may see). Requested stores are checked against the scope: a store id outside
it raises :class:`AccessDenied` (an empty request means "every store in scope").

Frames have ``store_id`` and ``bucket`` (store-local wall clock, start of the hour / day /
ISO week) followed by the KPI's columns. Ratios are null where the denominator is 0.
All KPIs read the hourly rollups through named queries, so the same code runs on a local
file or through the writer's read API.

One vocabulary: the metrics (additive rollup columns) are defined once in
:mod:`storelens.data.vocabulary`, and each KPI once, as a polars expression over summed
metrics, in :func:`kpi_exprs`. Every grain sums the metrics first and then applies those
expressions (:func:`summarize`, :func:`with_kpis`, :func:`totals`); pages use nothing else.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

import polars as pl
from storelens.data.errors import AccessDenied, InvalidParams
from storelens.data.reader import Reader
from storelens.data.vocabulary import METRICS, aggregates
from storelens.data.vocabulary import schema as metric_schema

Granularity = Literal["hour", "day", "week"]

MIN_GROUP = 5  # satisfaction is shown only where at least this many tracks contribute
VALID_GRANULARITY = ("hour", "day", "week")


@dataclass(frozen=True)
class KpiFilter:
    """Which stores, which store-local days (inclusive), at what granularity."""

    start: date
    end: date
    stores: tuple[str, ...] = ()
    granularity: Granularity = "day"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidParams(f"KpiFilter: end {self.end} is before start {self.start}")
        if self.granularity not in VALID_GRANULARITY:
            raise InvalidParams(
                f"KpiFilter: granularity must be one of {VALID_GRANULARITY}, got {self.granularity!r}"
            )
        object.__setattr__(self, "stores", tuple(self.stores))

    def with_(self, **changes: Any) -> KpiFilter:
        values = {
            "start": self.start,
            "end": self.end,
            "stores": self.stores,
            "granularity": self.granularity,
        }
        values.update(changes)
        return KpiFilter(**values)


@dataclass(frozen=True)
class Scope:
    """Stores a user may see; ``None`` = every store (executives, admins)."""

    stores: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, *store_ids: str) -> Scope:
        return cls(frozenset(store_ids))


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


# ------------------------------------------------------------------------- plumbing


def resolve_stores(reader: Reader, flt: KpiFilter, scope: Scope) -> list[str]:
    """Requested stores intersected with the scope; forged ids raise AccessDenied."""
    if flt.stores:
        if scope.stores is not None:
            forged = sorted(set(flt.stores) - scope.stores)
            if forged:
                raise AccessDenied(f"stores {forged} are outside this user's scope")
        return sorted(set(flt.stores))
    known = reader.query("stores", {})["store_id"].to_list()
    if scope.stores is None:
        return sorted(known)
    return sorted(set(known) & scope.stores)


def _ratio(num: pl.Expr, den: pl.Expr) -> pl.Expr:
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
    measured = _ratio(pl.col("queue_wait_s"), pl.col("queue_leaves"))
    littles = _ratio(pl.col("queue_length_sum") * 3600.0, joins)
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
    return _ratio(100.0 * (pl.col(now) - pl.col(before)), pl.col(before).abs())


def kpi_exprs(
    min_group: int = MIN_GROUP, intact_share: float = QUEUE_INTACT_SHARE
) -> dict[str, pl.Expr]:
    """Every KPI by its column name (DESIGN.md "KPI definitions"); ratios are null where
    the denominator is 0. Occupancy (a clipped running sum) and staffing are not ratios of
    sums and have their own functions below."""
    visitors = pl.col("visitors")
    labour = pl.col("labour_cost")
    exprs = [
        _ratio(pl.col("transactions"), visitors).alias("conversion"),
        _ratio(pl.col("sales"), visitors).alias("sales_per_visitor"),
        *satisfaction_exprs(min_group),
        _ratio(pl.col("tracks_readable").cast(pl.Float64), pl.col("tracks_total")).alias(
            "faces_read"
        ),
        _ratio(visitors.cast(pl.Float64), pl.col("staff_hours")).alias("star"),
        _ratio(labour, visitors).alias("labour_cost_per_visitor"),
        _ratio(labour, pl.col("transactions")).alias("labour_cost_per_transaction"),
        _ratio(100.0 * labour, pl.col("sales")).alias("labour_pct_of_sales"),
        _ratio(pl.col("dwell_seconds"), pl.col("dwell_visits")).alias("avg_dwell_s"),
        _ratio(pl.col("queue_length_sum"), pl.col("queue_sampled_hours")).alias("queue_length_avg"),
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


def _kpi(name: str, min_group: int = MIN_GROUP) -> pl.Expr:
    """One KPI's expression, from :func:`kpi_exprs`."""
    return kpi_exprs(min_group)[name]


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


# ------------------------------------------------------------------------- comparison

_METRIC_NAMES = [m.name for m in METRICS]


def _period_kpis(frame: pl.DataFrame, min_group: int) -> pl.DataFrame:
    """Collapse per-bucket metrics to one row per store with every headline KPI."""
    return summarize(frame, ["store_id"], min_group)


def store_comparison(
    reader: Reader, flt: KpiFilter, scope: Scope, min_group: int = MIN_GROUP
) -> pl.DataFrame:
    """Every headline KPI per store over the period, per opening hour and per m², with
    week-over-week change (last 7 days of the period vs the 7 before, in %)."""
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
        _ratio(pl.col("visitors").cast(pl.Float64), pl.col("open_hours")).alias(
            "visitors_per_open_hour"
        ),
        _ratio(pl.col("sales"), pl.col("open_hours")).alias("sales_per_open_hour"),
        _ratio(pl.col("transactions").cast(pl.Float64), pl.col("open_hours")).alias(
            "transactions_per_open_hour"
        ),
        (pl.col("visitors") / pl.col("area_m2")).alias("visitors_per_m2"),
        (pl.col("sales") / pl.col("area_m2")).alias("sales_per_m2"),
        (pl.col("labour_cost") / pl.col("area_m2")).alias("labour_cost_per_m2"),
    )
    end_dt = datetime.combine(flt.end, datetime.min.time())
    this_week = _period_kpis(daily.filter(pl.col("bucket") > end_dt - timedelta(days=7)), min_group)
    last_week = _period_kpis(
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


# ------------------------------------------------------------------------- live


def people_per_minute(reader: Reader, camera_id: str, since: datetime) -> pl.DataFrame:
    """Per UTC minute since ``since``: distinct person track ids seen (``people``) and boxes."""
    return reader.query("people_per_minute", {"camera_id": camera_id, "since": since})


def latest_counts(
    reader: Reader, camera_ids: list[str] | None = None, window_s: int = 60
) -> pl.DataFrame:
    """Per camera: last detection time, people in the last frame and in the last window."""
    return reader.query("latest_counts", {"camera_ids": camera_ids, "window_s": window_s})
