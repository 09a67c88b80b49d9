"""The metric vocabulary: every rollup column the KPIs stand on, defined once.

A *metric* is a column of the hourly and daily rollups (``visitors``, ``satisfied``,
``dwell_visits``, ...): its name in the KPI frames, its type, how it aggregates over time
(a sum, or the max for a peak), which hourly table it comes from and under which column,
and whether the per-zone rollups carry it. Everything that lists metrics is generated from
:data:`METRICS`: the SQL sums of the named queries (:mod:`storelens.data.queries`) and of
the daily rollups (:mod:`storelens.data.rollup`), the empty frames and period sums of
:mod:`storelens.data.kpi`, and the traffic columns of the chain reader
(:mod:`storelens.data.lake_reader`). The KPIs themselves (ratios of these sums) are
defined once in :func:`storelens.data.kpi.kpi_exprs`.

Adding a metric: one line here, plus its column in the rollup tables (a migration) and
in the raw-to-hourly rollup SQL, which is where its meaning is computed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import polars as pl

Source = Literal["traffic", "sales", "staff"]
Aggregate = Literal["sum", "max"]

# The hourly rollup table each source is rolled up into (migration 002).
HOURLY_TABLES: dict[Source, str] = {
    "traffic": "hourly_traffic",
    "sales": "hourly_sales",
    "staff": "hourly_staff",
}
HOURLY_ZONE_TABLE = "hourly_zone"
# The daily rollups (migration 003) name their columns after the metrics.
DAILY_STORE_TABLE = "daily_store"
DAILY_ZONE_TABLE = "daily_zone"

_SQL_TYPES = {pl.Int32: "INTEGER", pl.Int64: "BIGINT", pl.Float64: "DOUBLE"}


@dataclass(frozen=True)
class Metric:
    """One rollup column, as the KPI frames see it."""

    name: str
    dtype: type[pl.DataType]
    source: Source
    aggregate: Aggregate = "sum"
    per_zone: bool = False  # also in hourly_zone / daily_zone
    hourly_column: str | None = None  # its name in the hourly tables, where that differs

    @property
    def sql_type(self) -> str:
        return _SQL_TYPES[self.dtype]

    def sql(self, hourly: bool) -> str:
        """``sum(col)::TYPE AS name`` over the hourly tables (``hourly``) or the daily ones
        (whose columns already carry the metric's name)."""
        column = (self.hourly_column or self.name) if hourly else self.name
        return f"{self.aggregate}({column})::{self.sql_type} AS {self.name}"

    def polars(self) -> pl.Expr:
        """The same aggregate in polars (period sums, zone × hour tables)."""
        column = pl.col(self.name)
        return column.max() if self.aggregate == "max" else column.sum()


# In the column order of daily_store (migration 003): the rollup inserts by name, but the
# KPI frames keep this order.
METRICS: tuple[Metric, ...] = (
    Metric("visitors", pl.Int64, "traffic"),
    Metric("exits", pl.Int64, "traffic"),
    Metric("tracks_total", pl.Int64, "traffic", per_zone=True),
    Metric("tracks_readable", pl.Int64, "traffic", per_zone=True),
    # Expected counts: sums of calibrated probabilities (migration 004), hence DOUBLE.
    Metric("satisfied", pl.Float64, "traffic", per_zone=True),
    Metric("neutral", pl.Float64, "traffic", per_zone=True),
    Metric("frustrated", pl.Float64, "traffic", per_zone=True),
    Metric("dwell_visits", pl.Int64, "traffic", per_zone=True),
    Metric("dwell_seconds", pl.Float64, "traffic", per_zone=True),
    Metric("queue_joins", pl.Int64, "traffic", per_zone=True),
    Metric("queue_leaves", pl.Int64, "traffic", per_zone=True),
    Metric("queue_wait_s", pl.Float64, "traffic", per_zone=True),
    # Hourly: the mean length per hour and 1 per sampled hour; summed they are the
    # numerator and denominator of the mean length over any period.
    Metric("queue_length_sum", pl.Float64, "traffic", per_zone=True, hourly_column="queue_length"),
    Metric(
        "queue_sampled_hours", pl.Int64, "traffic", per_zone=True, hourly_column="queue_sampled"
    ),
    Metric("queue_length_max", pl.Int32, "traffic", aggregate="max"),
    Metric("alerts", pl.Int64, "traffic"),
    Metric("transactions", pl.Int64, "sales"),
    Metric("sales", pl.Float64, "sales"),
    Metric("staff_hours", pl.Float64, "staff"),
    Metric("labour_cost", pl.Float64, "staff"),
)
ZONE_METRICS: tuple[Metric, ...] = tuple(m for m in METRICS if m.per_zone)

# Columns of the store metrics that come from the cameras (the chain reader nulls them
# for hours whose traffic rollup was never published).
TRAFFIC_COLUMNS: tuple[str, ...] = tuple(m.name for m in METRICS if m.source == "traffic")


def of_source(source: Source) -> tuple[Metric, ...]:
    return tuple(m for m in METRICS if m.source == source)


def sql_aggregates(metrics: Iterable[Metric], hourly: bool) -> str:
    """The SELECT list aggregating ``metrics`` (see :meth:`Metric.sql`)."""
    return ",\n    ".join(m.sql(hourly) for m in metrics)


def sql_zero_filled(metrics: Iterable[Metric]) -> str:
    """``coalesce(name, 0) AS name`` for each metric: after a full join of the sources an
    hour without (say) sales has zero sales, not an unknown amount."""
    return ",\n    ".join(f"coalesce({m.name}, 0) AS {m.name}" for m in metrics)


def schema(keys: dict[str, pl.DataType | type[pl.DataType]], by_zone: bool = False) -> pl.Schema:
    """``keys`` followed by the metric columns, as the named queries return them."""
    return pl.Schema({**keys, **{m.name: m.dtype for m in (ZONE_METRICS if by_zone else METRICS)}})


def aggregates(columns: Iterable[str]) -> list[pl.Expr]:
    """Polars aggregates of the metrics among ``columns``, each by its own aggregate."""
    present = set(columns)
    return [m.polars() for m in METRICS if m.name in present]
