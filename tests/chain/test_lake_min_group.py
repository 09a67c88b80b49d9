"""Issue 18 item 7: the lake holds no expression cell under the store's minimum group.

The seeded demo chain is published to a real lake folder; every published Parquet object
is read back and checked cell by cell against the store's own DuckDB rollups, then read
through the chain reader and the DuckDB export so the KPIs still compute."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as pads
import pytest
from storelens.data import kpi
from storelens.data.lake import (
    EXPRESSION_COLUMNS,
    SUPPRESSED_TABLES,
    UNDER_MINIMUM,
    daily_kpis_duckdb,
    open_lake,
    publish_db,
)
from storelens.data.lake_reader import LakeReader

from tests.chain.chainlib import DAYS, END, EVERYONE, START, kpi_daily_table

KEYS = {
    "hourly_traffic": ("store_id", "hour"),
    "hourly_zone": ("store_id", "zone", "hour"),
    "daily_store": ("store_id", "day"),
    "daily_zone": ("store_id", "zone", "day"),
}


def lake_table(root: Path, table: str) -> pl.DataFrame:
    """Every published object of ``table`` (store_id from the Hive path)."""
    dataset = pads.dataset(
        root / f"table={table}", format="parquet", partitioning="hive", exclude_invalid_files=True
    )
    frame = pl.from_arrow(dataset.to_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def local_table(db: Path, table: str) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(f"SELECT * FROM {table}").pl()
    finally:
        con.close()


def assert_no_cell_under(root: Path, min_group: int) -> dict[str, int]:
    """No published row carries expression counts of fewer than ``min_group`` readable
    tracks; returns the suppressed rows per table."""
    suppressed = {}
    for table in SUPPRESSED_TABLES:
        frame = lake_table(root, table)
        assert frame.height > 0, table
        readable = frame["tracks_readable"]
        # Shown: at least the minimum group. Hidden: every expression column null, flagged.
        assert ((readable >= min_group) | readable.is_null()).all(), table
        hidden = frame.filter(pl.col(UNDER_MINIMUM))
        assert hidden.select(pl.col(*EXPRESSION_COLUMNS).is_null().all()).row(0) == (True,) * 4
        assert (
            frame.filter(~pl.col(UNDER_MINIMUM))
            .select(pl.col(*EXPRESSION_COLUMNS).is_not_null().all())
            .row(0)
            == (True,) * 4
        )
        assert (frame[UNDER_MINIMUM] == readable.is_null()).all(), table
        suppressed[table] = hidden.height
    return suppressed


@pytest.fixture(scope="module")
def lake_5(chain_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake_min5") / "lake"
    assert publish_db(chain_db_master, open_lake(root), min_group=5).written > 0
    return root


def test_no_published_cell_carries_expressions_of_fewer_than_the_minimum_group(
    lake_5: Path, chain_db_master: Path
):
    suppressed = assert_no_cell_under(lake_5, 5)
    # The demo data has such cells (zone-hours of 1-4 readable tracks): each one is hidden.
    local_zone = local_table(chain_db_master, "hourly_zone")
    small = local_zone.filter(pl.col("tracks_readable").is_between(1, 4))
    assert small.height > 50
    published = lake_table(lake_5, "hourly_zone")
    assert published.height == local_zone.height  # rows are kept, only the cells go
    joined = small.select(*KEYS["hourly_zone"]).join(
        published.with_columns(pl.col("hour").cast(small.schema["hour"])),
        on=list(KEYS["hourly_zone"]),
    )
    assert joined.height == small.height
    assert joined["tracks_readable"].is_null().all() and joined[UNDER_MINIMUM].all()
    assert suppressed["hourly_zone"] >= small.height
    # Shown hourly cells are the store's own numbers, and the rest of every row too.
    for table in ("hourly_traffic", "hourly_zone"):
        mine = local_table(chain_db_master, table)
        theirs = lake_table(lake_5, table)
        theirs = theirs.with_columns(pl.col("hour").cast(mine.schema["hour"]))
        both = mine.join(theirs, on=list(KEYS[table]), suffix="_lake")
        assert both.height == mine.height
        shown = both.filter(~pl.col(UNDER_MINIMUM))
        assert shown.height > 0
        for column in EXPRESSION_COLUMNS:
            assert (shown[column] == shown[f"{column}_lake"]).all(), (table, column)
        assert (both["tracks_total"] == both["tracks_total_lake"]).all()
        assert (both["dwell_visits"] == both["dwell_visits_lake"]).all()


def test_a_day_cannot_give_a_hidden_hour_back_by_subtraction(lake_5: Path):
    # The daily rows are sums of hours: a daily cell counting a hidden hour would give it
    # back as "day minus the shown hours". The published day is the sum of its shown hours.
    for daily, hourly, keys in (
        ("daily_store", "hourly_traffic", ["store_id"]),
        ("daily_zone", "hourly_zone", ["store_id", "zone"]),
    ):
        hours = (
            lake_table(lake_5, hourly)
            .with_columns(pl.col("local_hour").dt.date().alias("day"))
            .group_by(*keys, "day")
            .agg(pl.col(*EXPRESSION_COLUMNS).sum())  # nulls skipped: shown hours only
        )
        days = lake_table(lake_5, daily).with_columns(pl.col("day").cast(pl.Date))
        both = days.join(hours, on=[*keys, "day"], suffix="_hours", how="left")
        assert both.height == days.height
        for column in EXPRESSION_COLUMNS:
            got = both[column].fill_null(0)
            want = both[f"{column}_hours"].fill_null(0)
            assert ((got - want).abs() < 1e-6).all(), (daily, column)


def test_a_larger_minimum_group_suppresses_more(
    chain_db_master: Path, tmp_path: Path, lake_5: Path
):
    root = tmp_path / "lake"
    publish_db(chain_db_master, open_lake(root), min_group=12)
    more, fewer = assert_no_cell_under(root, 12), assert_no_cell_under(lake_5, 5)
    assert all(more[t] > fewer[t] for t in ("hourly_zone", "hourly_traffic"))
    # The minimum group changed: the next publish rewrites the partitions whose cells
    # change (the fingerprint covers the published rows), then nothing.
    assert publish_db(chain_db_master, open_lake(root), min_group=5).written > 0
    assert assert_no_cell_under(root, 5) == fewer
    assert publish_db(chain_db_master, open_lake(root), min_group=5).written == 0


def test_kpis_read_from_the_lake_treat_suppressed_cells_as_not_shown(lake_5: Path):
    reader = LakeReader(lake_5)
    try:
        for granularity in ("hour", "day", "week"):
            flt = kpi.KpiFilter(START, END, (), granularity)  # type: ignore[arg-type]
            zones = kpi.with_kpis(kpi.zone_metrics(reader, flt, EVERYONE))
            stores = kpi.with_kpis(kpi.metrics(reader, flt, EVERYONE))
            for frame in (zones, stores):
                shown = frame.filter(pl.col("satisfaction_index").is_not_null())
                assert shown.height > 0, granularity
                assert (shown["tracks_readable"] >= kpi.MIN_GROUP).all()
                hidden = frame.filter(pl.col("satisfaction_index").is_null())
                assert (hidden["tracks_readable"].fill_null(0) < kpi.MIN_GROUP).all()
        # The zone x hour table of the Store page: cells under the group stay empty.
        flt = kpi.KpiFilter(START, END, (), "hour")
        hourly = kpi.with_kpis(kpi.zone_metrics(reader, flt, EVERYONE))
        assert hourly["satisfaction_index"].is_null().sum() > 50
        for sid in reader.query("stores")["store_id"].to_list():
            head = kpi.headline(reader, sid, START, END)
            assert head["satisfaction_index"] is not None
    finally:
        reader.close()
    # The chain-wide daily table (the Spark job's reference) computes on the lake too.
    daily = pl.from_arrow(daily_kpis_duckdb(open_lake(lake_5)))
    assert isinstance(daily, pl.DataFrame)
    assert daily.height == 5 * DAYS
    assert daily["satisfaction_index"].is_not_null().any()
    reference = kpi_daily_table(lake_5)
    assert daily["satisfaction_index"].null_count() == reference["satisfaction_index"].null_count()
    assert END - timedelta(days=DAYS - 1) == reference["day"].min()
