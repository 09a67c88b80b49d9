"""The chain-wide daily KPI table on Spark (local[2], Debian Java 17) equals DuckDB's on the
same lake, to the cent."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from storelens.data.lake import (
    DAILY_KPI_COLUMNS,
    WEEKLY_KPI_COLUMNS,
    daily_kpis_duckdb,
    open_lake,
    weekly_kpis_duckdb,
)

MONEY = {"sales", "labour_cost", "sales_per_visitor", "labour_cost_per_visitor"}

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


def test_spark_daily_kpis_equal_duckdb_to_the_cent(spark: Any, published_lake: Path):
    from storelens.jobs.daily_kpis import daily_kpis

    root = published_lake
    want = daily_kpis_duckdb(open_lake(root)).to_pylist()
    got = [row.asDict() for row in daily_kpis(spark, root).collect()]
    assert len(got) == len(want) == 5 * 8  # 5 stores x 8 days
    assert list(got[0]) == list(DAILY_KPI_COLUMNS)
    for g, w in zip(got, want, strict=True):
        for column in DAILY_KPI_COLUMNS:
            a, b = g[column], w[column]
            if column in MONEY and a is not None:
                assert round(a, 2) == round(b, 2), (column, g, w)
            if isinstance(a, float) and b is not None:
                assert math.isclose(a, b, rel_tol=1e-12), (column, g, w)
            else:
                assert a == b, (column, g, w)
    # Not trivially equal: real sales, and the regions come from the Hive path.
    assert sum(r["sales"] for r in got) > 1000
    assert {r["region"] for r in got} == {"Central", "North"}


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
