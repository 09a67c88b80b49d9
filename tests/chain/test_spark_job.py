"""The chain-wide daily KPI table on Spark (local[2], Debian Java 17) equals data.kpi's
KPIs on the same lake (through the chain reader), and DuckDB's export, to the cent."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from storelens.data.lake import (
    WEEKLY_KPI_COLUMNS,
    daily_kpis_duckdb,
    open_lake,
    weekly_kpis_duckdb,
)

from tests.chain.chainlib import assert_same_frame, kpi_daily_table

MONEY = ["sales", "labour_cost", "sales_per_visitor", "labour_cost_per_visitor"]

pytestmark = pytest.mark.slow  # a JVM and a Spark session: ~30 s


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    pytest.importorskip("pyspark", reason="pyspark is in the dev extra (scripts/setup.sh --test)")
    if not shutil.which("java"):
        pytest.skip("no Java: scripts/setup.sh --test installs openjdk-17-jre-headless")
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from storelens.jobs.daily_kpis import spark_session

    session = spark_session("local[2]")
    try:
        yield session
    finally:
        session.stop()


def test_spark_daily_kpis_equal_data_kpi_on_the_same_lake(spark: Any, published_lake: Path):
    from storelens.jobs.daily_kpis import daily_kpis

    root = published_lake
    got = pl.from_arrow(daily_kpis(spark, root).toArrow())
    assert isinstance(got, pl.DataFrame)
    want = kpi_daily_table(root)  # data.kpi through the chain reader: what HQ pages show
    assert got.height == 5 * 8  # 5 stores x 8 days
    assert_same_frame(got, want)
    assert_same_frame(got, pl.from_arrow(daily_kpis_duckdb(open_lake(root))))
    assert got.select(pl.col(MONEY).round(2)).equals(want.select(pl.col(MONEY).round(2)))
    # Not trivially equal: real sales, regions from the Hive path, and the satisfaction
    # interval of data.kpi around its index.
    assert got["sales"].sum() > 1000
    assert set(got["region"]) == {"Central", "North"}
    shown = got.filter(pl.col("satisfaction_index").is_not_null())
    assert shown.height > 0
    assert (shown["satisfaction_low"] < shown["satisfaction_index"]).all()
    assert (shown["satisfaction_index"] < shown["satisfaction_high"]).all()


def test_spark_week_over_week_equals_duckdb(spark: Any, published_lake: Path):
    from storelens.jobs.daily_kpis import weekly_kpis

    want = weekly_kpis_duckdb(open_lake(published_lake)).to_pylist()
    got = [row.asDict() for row in weekly_kpis(spark, published_lake).collect()]
    assert len(got) == len(want) == 5 * 2  # 8 days from a Sunday: two ISO weeks per store
    for g, w in zip(got, want, strict=True):
        assert list(g) == list(WEEKLY_KPI_COLUMNS)
        for column in WEEKLY_KPI_COLUMNS:
            a, b = g[column], w[column]
            if isinstance(a, float) and b is not None:
                assert math.isclose(a, b, rel_tol=1e-12), (column, g, w)
            else:
                assert a == b, (column, g, w)
    # The second week compares with the first (one day long), the first with nothing.
    assert [r["visitors_wow_pct"] is None for r in got[:2]] == [True, False]
    assert round(sum(r["sales"] for r in got), 2) == round(sum(r["sales"] for r in want), 2)
