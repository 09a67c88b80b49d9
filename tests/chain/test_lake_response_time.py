"""Median response time in chain mode (issue 19 item 7): each store publishes the response
seconds of its acknowledged alerts with its alert counts, per store-local hour, and the
lake reader gives Compare the same median as the store's own database; the published rows
say nothing about whose alert it was, and keep the minimum-group rule of the counts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.dataset as pads
from storelens.data import alert_response, kpi
from storelens.data.lake import open_lake, publish_db
from storelens.data.lake_reader import LakeReader
from storelens.data.reader import LocalReader
from storelens.data.sink import BATCH_SCHEMAS, AlertRow, to_arrow
from storelens.data.writer import Writer

from tests.chain.chainlib import END, EVERYONE, START, assert_same_frame

# What an alert_counts object may hold: the hour, the kind, counts, response seconds and
# the suppression flag (plus the Hive path's keys). No id, camera, text or person.
PUBLISHED = {"hour", "local_hour", "kind", "alerts", "acknowledged", "response_s"}
PUBLISHED |= {"readable_under_minimum", "table", "region", "store_id", "date"}


def alert_counts(root: Path) -> pl.DataFrame:
    dataset = pads.dataset(
        root / "table=alert_counts",
        format="parquet",
        partitioning="hive",
        exclude_invalid_files=True,
    )
    frame = pl.from_arrow(dataset.to_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def medians(db: Path, lake: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    flt = kpi.KpiFilter(START, END, (), "day")
    local, chain = LocalReader(db, hold_s=0), LakeReader(lake)
    try:
        return (
            alert_response.median_response(local, flt, EVERYONE),
            alert_response.median_response(chain, flt, EVERYONE),
        )
    finally:
        local.close()
        chain.close()


def test_the_lake_gives_the_same_median_response_time(
    chain_db_master: Path, published_lake: Path
) -> None:
    own, from_lake = medians(chain_db_master, published_lake)
    assert own.height == 5 and own["median_response_min"].null_count() == 0  # not vacuous
    assert_same_frame(from_lake, own)
    assert set(alert_counts(published_lake).columns) <= PUBLISHED


def test_response_seconds_follow_the_minimum_group(chain_db: Path, tmp_path: Path) -> None:
    # Two acknowledged frustrated-shopper alerts in one hour at s01: under the minimum group
    # of 5, so neither their count nor their response seconds leave the store.
    store = duckdb.connect(str(chain_db), read_only=True)
    camera = store.execute(
        "SELECT camera_id FROM cameras WHERE store_id = 's01' LIMIT 1"
    ).fetchone()
    store.close()
    assert camera is not None
    raised = datetime(END.year, END.month, END.day, 12, 10, tzinfo=UTC).timestamp()
    rows = [
        AlertRow(
            raised + i,
            camera[0],
            "frustrated_shopper",
            "frustrated shopper",
            None,
            None,
            "mia",
            raised + i + 30.0,
        )
        for i in range(2)
    ]
    with Writer(chain_db) as writer:
        writer.append("alerts", to_arrow(rows, BATCH_SCHEMAS["alerts"]), "frustrated-pair")
        writer.flush()
    lake = tmp_path / "lake"
    publish_db(chain_db, open_lake(lake), min_group=5)
    frustrated = alert_counts(lake).filter(pl.col("kind") == "frustrated_shopper")
    assert frustrated.height == 1
    assert frustrated.row(0, named=True)["response_s"] is None
    assert frustrated.row(0, named=True)["readable_under_minimum"] is True
    # The store's own median counts them; the lake's leaves the hidden hour out.
    own, from_lake = medians(chain_db, lake)
    assert own.filter(pl.col("store_id") == "s01")["alerts_acknowledged"].item() == (
        from_lake.filter(pl.col("store_id") == "s01")["alerts_acknowledged"].item() + 2
    )


def test_an_older_lake_without_response_seconds_shows_no_figure(
    chain_db_master: Path, tmp_path: Path
) -> None:
    # A lake published before the column existed: no figure (shown "—"), not an error.
    root = tmp_path / "lake"
    publish_db(chain_db_master, open_lake(root))
    for path in (root / "table=alert_counts").rglob("*.parquet"):
        frame = pl.read_parquet(path).drop("response_s")
        frame.write_parquet(path)
    _, from_lake = medians(chain_db_master, root)
    assert from_lake.height == 5
    assert from_lake["median_response_min"].null_count() == 5
    assert (from_lake["alerts_raised"] > 0).all()
