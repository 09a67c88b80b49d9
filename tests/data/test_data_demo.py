"""Demo history: reproducible, through the writer, and telling the intended story."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from storelens.data import kpi
from storelens.data.demo import DEMO_CAMERA, DEMO_STORE, OVERSTAFFED_STORE, PROBLEM_STORE, seed_demo
from storelens.data.reader import LocalReader

END = date(2026, 3, 1)
DAYS = 35


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    seed_demo(path, days=DAYS, stores=8, seed=11, end=END)
    return path


def hourly(path: Path) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("SELECT * EXCLUDE (hour) FROM hourly_traffic ORDER BY ALL").fetchall()
    finally:
        con.close()


def same_rows(left: list[tuple], right: list[tuple]) -> bool:
    """Equal row by row; floats equal to 1e-9 relative.

    Sums of doubles differ in the last bits with DuckDB's parallel aggregation
    order, so rounding both sides to N places is not enough: a value that lands
    on a rounding boundary (…3385 vs …3390) rounds apart. A relative tolerance
    has no such boundary.
    """
    if len(left) != len(right):
        return False
    for a_row, b_row in zip(left, right, strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9):
                    return False
            elif a != b:
                return False
    return True


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [
        ([("s", 19173.755338499)], [("s", 19173.755338501)], True),  # rounds apart at 6 places
        ([("s", 1.0)], [("s", 1.001)], False),
        ([("s", 1.0)], [("t", 1.0)], False),
        ([("s", 1.0)], [], False),
    ],
)
def test_same_rows_tolerates_summation_order_only(left, right, same):
    assert same_rows(left, right) is same


@pytest.mark.slow
def test_same_seed_same_history_and_reseeding_adds_nothing(demo_db: Path, tmp_path: Path):
    other = tmp_path / "again.duckdb"
    seed_demo(other, days=DAYS, stores=8, seed=11, end=END)
    assert same_rows(hourly(other), hourly(demo_db))
    before = hourly(other)
    # Again, even for another end day: the database already has its demo history.
    summary = seed_demo(other, days=DAYS, stores=8, seed=11, end=END + timedelta(days=1))
    assert summary.already_seeded
    assert same_rows(hourly(other), before)


@pytest.mark.slow
def test_demo_store_and_camera_exist(demo_db: Path):
    con = duckdb.connect(str(demo_db), read_only=True)
    row = con.execute(
        "SELECT s.name, c.camera_id FROM stores s JOIN cameras c USING (store_id) WHERE store_id = ?",
        [DEMO_STORE],
    ).fetchall()
    regions = con.execute("SELECT count(DISTINCT region) FROM stores").fetchall()[0][0]
    con.close()
    assert row == [("Demo Store", DEMO_CAMERA)]
    assert regions == 3


@pytest.mark.slow
def test_story_problem_store_overstaffed_store_promotion(demo_db: Path):
    reader = LocalReader(demo_db)
    everyone = kpi.Scope.everything()
    first = kpi.KpiFilter(start=END - timedelta(days=DAYS - 1), end=END - timedelta(days=DAYS - 7))
    last = kpi.KpiFilter(start=END - timedelta(days=6), end=END)
    early = kpi.store_comparison(reader, first, everyone).sort("store_id")
    late = kpi.store_comparison(reader, last, everyone).sort("store_id")

    def value(frame: pl.DataFrame, store: str, column: str) -> float:
        return frame.filter(pl.col("store_id") == store)[column][0]

    # Harbour Street: waits grow and satisfaction falls; it ends worst of all stores.
    assert value(late, PROBLEM_STORE, "queue_wait_s_avg") > 2 * value(
        early, PROBLEM_STORE, "queue_wait_s_avg"
    )
    assert (
        value(late, PROBLEM_STORE, "satisfaction_index")
        < value(early, PROBLEM_STORE, "satisfaction_index") - 15
    )
    assert late["satisfaction_index"].min() == value(late, PROBLEM_STORE, "satisfaction_index")
    # Riverside Mall: lowest STAR (most staff per visitor).
    assert late["star"].min() == value(late, OVERSTAFFED_STORE, "star")
    # Promotion week (days 14-20 before the end) beats the week after it, all stores together.
    promo = kpi.KpiFilter(start=END - timedelta(days=20), end=END - timedelta(days=14))
    after = kpi.KpiFilter(start=END - timedelta(days=13), end=END - timedelta(days=7))
    assert (
        kpi.visitors(reader, promo, everyone)["visitors"].sum()
        > 1.15 * kpi.visitors(reader, after, everyone)["visitors"].sum()
    )
    # Sales follow traffic: conversion is plausible everywhere.
    assert late["conversion"].is_between(0.15, 0.45).all()
