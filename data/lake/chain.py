"""The chain-wide daily and weekly KPI tables, read back from the lake: DuckDB here (the
reference), Spark in ``jobs/daily_kpis.py``; both add :mod:`storelens.data.kpi`'s KPIs to
the metric sums through :func:`daily_kpi_table` / :func:`weekly_kpi_table`."""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa
from storelens.data import kpi
from storelens.data.lake.access import Lake, LakeError
from storelens.data.lake.status import read_manifests
from storelens.data.vocabulary import METRICS, sql_aggregates

#
# The chain-wide daily and weekly tables (DuckDB here, Spark in jobs/daily_kpis.py) define
# no KPI: an engine sums the metrics (data.vocabulary) to the table's grain, and
# :func:`daily_kpi_table` / :func:`weekly_kpi_table` add the KPIs of data.kpi to those sums,
# so the lake's conversion is the pages' conversion, satisfaction interval included.

DAILY_KEYS = ("region", "store_id", "day")
# The daily table carries these of the headline's figures, in the headline's order.
_DAILY_FIGURES = frozenset(
    {"visitors", "transactions", "sales", "conversion", "sales_per_visitor", "star"}
    | {"satisfaction_index", "satisfaction_low", "satisfaction_high"}
    | {"staff_hours", "labour_cost", "labour_cost_per_visitor", "alerts"}
)
DAILY_KPI_COLUMNS = (*DAILY_KEYS, *(f for f in kpi.HEADLINE_FIGURES if f in _DAILY_FIGURES))

# The week sums the weekly table's KPIs need, and their previous week's (``prev_<name>``)
# for the week-over-week change.
WEEKLY_SUMS = ("visitors", "transactions", "sales")
WEEKLY_CHANGES = ("visitors", "sales")
WEEKLY_KPI_COLUMNS = (
    "region",
    "store_id",
    "week",
    "days",
    "visitors",
    "transactions",
    "sales",
    "conversion",
    "visitors_wow_pct",
    "sales_wow_pct",
)


def daily_kpi_table(summed: pl.DataFrame) -> pl.DataFrame:
    """The daily table's rows from metric sums per region, store and day: the KPIs are
    those of :func:`storelens.data.kpi.with_kpis` (each row on its own, so any batch of
    rows gives the same result: Spark applies this per Arrow batch)."""
    return kpi.with_kpis(summed).select(DAILY_KPI_COLUMNS)


def weekly_kpi_table(weeks: pl.DataFrame) -> pl.DataFrame:
    """The weekly table's rows from week sums (:data:`WEEKLY_SUMS`, ``days``) and the
    previous week's (``prev_visitors``, ``prev_sales``; null where that week has no data)."""
    return kpi.with_kpis(weeks).select(
        *(c for c in WEEKLY_KPI_COLUMNS if not c.endswith("_wow_pct")),
        *(kpi.change_pct(c, f"prev_{c}").alias(f"{c}_wow_pct") for c in WEEKLY_CHANGES),
    )


def plain_arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as Arrow with plain ``string`` columns (polars writes string views or
    large strings, which Spark's Arrow reader and older Parquet readers may not take)."""
    table = frame.to_arrow()
    schema = pa.schema(
        pa.field(f.name, pa.string())
        if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type)
        else f
        for f in table.schema
    )
    return table.cast(schema)


def read_lake_table(lake: Lake, table: str) -> pa.Table:
    """One lake table of every store that has a manifest, with ``region`` and ``store_id``
    from the path (only the region the manifest names: no copies from before a move)."""
    import pyarrow.dataset as pads

    current = {
        f"region={m['store']['region']}/store_id={m['store']['store_id']}"
        for m in read_manifests(lake)
    }
    files = [
        f
        for f in lake.list_files(f"table={table}/", ".parquet")
        if "/".join(f.split("/")[1:3]) in current  # each store under its current region only
    ]
    if not files:
        raise LakeError(f"lake {lake.url} has no table={table}/ objects; publish first")
    dataset = pads.dataset(
        [lake.path(f) for f in files],
        filesystem=lake.fs,
        format="parquet",
        partitioning=pads.partitioning(
            pa.schema([("table", pa.string()), ("region", pa.string()), ("store_id", pa.string())]),
            flavor="hive",
        ),
        partition_base_dir=lake.path(""),
    )
    return dataset.to_table()


def daily_kpis_duckdb(lake: Lake) -> pa.Table:
    """The daily all-stores KPI table computed by DuckDB (the reference for the Spark job
    in ``jobs/daily_kpis.py``): one row per store and store-local day."""
    daily = read_lake_table(lake, "daily_store")
    con = duckdb.connect()
    try:
        con.register("daily", daily)
        # One row per store and day already (the rollup's key); summing keeps the types
        # of data.vocabulary whatever a store's older files hold.
        summed = con.sql(
            f"""SELECT {", ".join(DAILY_KEYS)}, {sql_aggregates(METRICS, hourly=False)}
            FROM daily GROUP BY ALL ORDER BY store_id, day"""
        ).pl()
    finally:
        con.close()
    return plain_arrow(daily_kpi_table(summed))


def weekly_kpis_duckdb(lake: Lake) -> pa.Table:
    """Week over week per store, computed by DuckDB (the reference for the Spark job)."""
    daily = read_lake_table(lake, "daily_store")
    sums = sql_aggregates((m for m in METRICS if m.name in WEEKLY_SUMS), hourly=False)
    prev = ", ".join(f"p.{c} AS prev_{c}" for c in WEEKLY_CHANGES)
    con = duckdb.connect()
    try:
        con.register("daily", daily)
        weeks = con.sql(
            f"""WITH w AS (
                SELECT region, store_id, CAST(date_trunc('week', day) AS DATE) AS week,
                       count(*) AS days, {sums}
                FROM daily GROUP BY ALL)
            SELECT w.*, {prev}
            FROM w LEFT JOIN w p ON p.store_id = w.store_id AND p.week = w.week - 7
            ORDER BY w.store_id, w.week"""
        ).pl()
    finally:
        con.close()
    return plain_arrow(weekly_kpi_table(weeks))
