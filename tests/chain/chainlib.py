"""Helpers of the chain-mode tests (imported as tests.chain.chainlib: with pytest's
importlib mode a conftest is not importable by name)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from storelens.data import kpi
from storelens.data.lake import DAILY_TABLES, HOURLY_TABLES, Lake
from storelens.data.lake_reader import LakeReader
from storelens.data.reader import LocalReader

END = date(2026, 3, 1)
DAYS = 8
STORES = 5  # demo + s04 in Central, s01..s03 in North
START = END - timedelta(days=6)
EVERYONE = kpi.Scope.everything()


def assert_same_frame(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Same columns, types and rows; floats equal to 1e-9 relative.

    Sums of doubles differ in the last bits with DuckDB's parallel aggregation order, so
    exact float equality is not the contract; money is then also equal to the cent.
    """
    assert left.columns == right.columns
    assert left.dtypes == right.dtypes
    assert left.height == right.height, (left.height, right.height)
    for a_row, b_row in zip(left.rows(), right.rows(), strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (a_row, b_row)
            else:
                assert a == b, (a_row, b_row)


def lake_objects(root: Path) -> dict[str, bytes]:
    """Every visible object in a local lake (readers skip dot and underscore files)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith((".", "_")):
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def rows_per_table(db: Path) -> dict[str, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in (*HOURLY_TABLES, *DAILY_TABLES)
        }
    finally:
        con.close()


def lake_rows(root: Path, table: str) -> int:
    return sum(pq.read_metadata(p).num_rows for p in root.glob(f"table={table}/**/*.parquet"))


# Columns the lake does not carry as the store has them: expression cells under the minimum
# group are suppressed before publishing (data.lake.table_sql; tests/chain/
# test_lake_min_group.py checks those), so these and the KPIs made of them differ.
EXPRESSION_DERIVED = (
    "tracks_readable",
    "satisfied",
    "neutral",
    "frustrated",
    "satisfaction_index",
    "satisfaction_low",
    "satisfaction_high",
    "faces_read",
)


def without_expressions(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in EXPRESSION_DERIVED if c in frame.columns])


def assert_lake_serves_same_kpis(lake_url: str | Path | Lake, db: Path) -> None:
    """Every KPI input and the headline KPIs equal the store's own, for every store
    (except the expression cells, suppressed under the minimum group in the lake)."""
    lake, local = LakeReader(lake_url), LocalReader(db, hold_s=0)

    def same(a: pl.DataFrame, b: pl.DataFrame) -> None:
        assert_same_frame(without_expressions(a), without_expressions(b))

    try:
        for granularity in ("hour", "day", "week"):
            flt = kpi.KpiFilter(START, END, (), granularity)  # type: ignore[arg-type]
            same(kpi.metrics(lake, flt, EVERYONE), kpi.metrics(local, flt, EVERYONE))
            same(kpi.zone_metrics(lake, flt, EVERYONE), kpi.zone_metrics(local, flt, EVERYONE))
        flt = kpi.KpiFilter(START, END, (), "day")
        same(kpi.store_comparison(lake, flt, EVERYONE), kpi.store_comparison(local, flt, EVERYONE))
        same(kpi.staffing(lake, flt, EVERYONE), kpi.staffing(local, flt, EVERYONE))
        stores = local.query("stores")["store_id"].to_list()
        assert lake.query("stores")["store_id"].to_list() == stores
        for sid in stores:
            a, b = kpi.headline(lake, sid, START, END), kpi.headline(local, sid, START, END)
            assert a.keys() == b.keys()
            for key in (k for k in a if k not in EXPRESSION_DERIVED):
                if isinstance(a[key], float):
                    assert a[key] == pytest.approx(b[key], rel=1e-9), key
                else:
                    assert a[key] == b[key], key
            assert round(a["sales"], 2) == round(b["sales"], 2)
    finally:
        lake.close()
        local.close()


def kpi_daily_table(lake_root: Path) -> pl.DataFrame:
    """The chain-wide daily KPI table as data.kpi gives it through the chain reader (what
    the HQ pages show): the reference for the DuckDB export and the Spark job."""
    from storelens.data.lake import DAILY_KPI_COLUMNS

    reader = LakeReader(lake_root)
    every_day = kpi.KpiFilter(END - timedelta(days=DAYS - 1), END, (), "day")
    regions = reader.query("stores").select("store_id", "region")
    return (
        kpi.with_kpis(kpi.metrics(reader, every_day, EVERYONE))
        .join(regions, on="store_id", how="left")
        .with_columns(pl.col("bucket").dt.date().alias("day"))
        .select(DAILY_KPI_COLUMNS)
        .sort("store_id", "day")
    )
