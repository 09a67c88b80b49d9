"""Chain mode on a local-folder lake: publish, read back through the same KPI functions,
idempotence, late corrections, kill -9 mid-publish, lake down then back, role scoping,
missing hours, bad input. Real DuckDB files, real Parquet, real processes."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from storelens.dashboard.auth import Role, User, scope_for
from storelens.data import kpi
from storelens.data.errors import AccessDenied, InvalidParams
from storelens.data.lake import (
    TABLES,
    LakeUnavailable,
    PublishLoop,
    daily_kpis_duckdb,
    lake_status,
    loop_from_env,
    open_lake,
    publish_db,
    weekly_kpis_duckdb,
)
from storelens.data.lake_reader import LakeReader
from storelens.data.reader import LocalReader
from storelens.data.writer import Writer

from tests.chain.chainlib import (
    END,
    EVERYONE,
    START,
    assert_lake_serves_same_kpis,
    assert_same_frame,
    kpi_daily_table,
    lake_objects,
    lake_rows,
    rows_per_table,
)

REPO = Path(__file__).resolve().parents[2]


# ----------------------------------------------------------------------- publish + read


def test_publish_then_kpis_from_the_lake_equal_the_stores_own(chain_db: Path, tmp_path: Path):
    root = tmp_path / "lake"
    summary = publish_db(chain_db, open_lake(root))
    assert summary.written > 0
    # Hive layout, partition columns in the path only, aggregates only.
    keys = list(lake_objects(root))
    assert all(k.startswith("_") or k.split("/")[0].removeprefix("table=") in TABLES for k in keys)
    sample = next(k for k in keys if k.startswith("table=hourly_traffic/region=North/"))
    assert sample.split("/")[2].startswith("store_id=s0") and "/date=" in sample
    assert "store_id" not in pq.read_schema(root / sample).names
    published = {k.split("/")[0] for k in keys}
    assert not published & {"table=detections", "table=tracks", "table=events"}
    # Every rollup row arrived once.
    for table, rows in rows_per_table(chain_db).items():
        assert lake_rows(root, table) == rows, table
    assert_lake_serves_same_kpis(root, chain_db)


def test_republish_writes_nothing_and_changes_nothing(chain_db: Path, tmp_path: Path):
    lake = open_lake(tmp_path / "lake")
    publish_db(chain_db, lake)
    before = lake_objects(tmp_path / "lake")
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "lake").rglob("*") if p.is_file()}
    again = publish_db(chain_db, lake)
    assert again.written == 0
    assert lake_objects(tmp_path / "lake") == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # not even rewritten


def test_late_correction_republishes_its_day_and_never_duplicates(chain_db: Path, tmp_path: Path):
    root = tmp_path / "lake"
    lake = open_lake(root)
    publish_db(chain_db, lake)
    before = lake_objects(root)
    # A late POS correction for s02 at 11:30 UTC on END-3: one more transaction.
    day = END - timedelta(days=3)
    ts = datetime(day.year, day.month, day.day, 11, 30, tzinfo=UTC)
    row = pa.table(
        {
            "transaction_id": ["late-1"],
            "ts": pa.array([ts], pa.timestamp("us", tz="UTC")),
            "store_id": ["s02"],
            "register": ["r1"],
            "amount": [123.45],
        }
    )
    with Writer(chain_db) as writer:
        writer.append("transactions", row, "late-correction-1")
        writer.flush()
        writer.rollup_now()
    summary = publish_db(chain_db, lake)
    after = lake_objects(root)
    changed = sorted(k for k in after if before.get(k) != after[k] and not k.startswith("_"))
    assert changed == [
        f"table=daily_store/region=North/store_id=s02/year={day.year}/part-0.parquet",
        f"table=hourly_sales/region=North/store_id=s02/date={day}/part-0.parquet",
    ]
    assert summary.written == 2
    assert lake_rows(root, "hourly_sales") == rows_per_table(chain_db)["hourly_sales"]
    assert json.loads((root / "_manifests/store_id=s02/manifest.json").read_bytes())["version"] == 2
    assert_lake_serves_same_kpis(root, chain_db)


def test_reader_picks_up_a_new_manifest_version(chain_db: Path, tmp_path: Path):
    root = tmp_path / "lake"
    lake = open_lake(root)
    publish_db(chain_db, lake, ["s01"])
    reader = LakeReader(root, refresh_s=0)
    assert reader.query("stores")["store_id"].to_list() == ["s01"]
    flt = kpi.KpiFilter(START, END, ("s01",), "day")
    first = kpi.metrics(reader, flt, EVERYONE)
    loads = reader.loads
    kpi.metrics(reader, flt, EVERYONE)
    assert reader.loads == loads  # warm: nothing read again
    publish_db(chain_db, lake, ["s02"])
    assert reader.query("stores")["store_id"].to_list() == ["s01", "s02"]
    assert_same_frame(kpi.metrics(reader, flt, EVERYONE), first)


# ----------------------------------------------------------------------- crash safety


def test_an_interrupted_write_leaves_the_old_object(tmp_path: Path, monkeypatch):
    lake = open_lake(tmp_path / "lake")
    lake.write_atomic("table=t/region=r/store_id=s/date=d/part-0.parquet", b"old complete")

    def torn_fsync(fd: int) -> None:  # the process dies after half the bytes hit the disk
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", torn_fsync)
    with pytest.raises(KeyboardInterrupt):
        lake.write_atomic("table=t/region=r/store_id=s/date=d/part-0.parquet", b"new" * 1000)
    monkeypatch.undo()
    assert lake_objects(tmp_path / "lake") == {
        "table=t/region=r/store_id=s/date=d/part-0.parquet": b"old complete"
    }
    assert not list((tmp_path / "lake").rglob(".*"))  # the temp file was removed too


def test_kill_9_mid_publish_leaves_the_lake_consistent(chain_db: Path, tmp_path: Path):
    root = tmp_path / "lake"
    code = (
        "import sys; from storelens.data.lake import open_lake, publish_db; "
        "publish_db(sys.argv[1], open_lake(sys.argv[2]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(chain_db), str(root)], cwd=REPO, env=os.environ.copy()
    )
    try:
        deadline = time.monotonic() + 120
        # Kill it once it is well into the data files, before it is done.
        while len(list(root.rglob("part-0.parquet"))) < 40:
            assert proc.poll() is None, "publish finished before it could be killed"
            assert time.monotonic() < deadline, "publish wrote nothing within 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # Every visible object is complete Parquet; the manifest, written last, is not there yet.
    visible = [p for p in root.rglob("*.parquet") if not p.name.startswith(".")]
    for path in visible:
        pq.read_table(path)
    statuses = {s["store_id"]: s for s in lake_status(open_lake(root))}
    reader = LakeReader(root)
    assert sorted(statuses) == reader.query("stores")["store_id"].to_list()
    # The next run finishes the job: nothing doubled, nothing missing, same KPIs.
    publish_db(chain_db, open_lake(root))
    for table, rows in rows_per_table(chain_db).items():
        assert lake_rows(root, table) == rows, table
    assert_lake_serves_same_kpis(root, chain_db)


# ----------------------------------------------------------------------- store-and-forward


def test_lake_down_then_back_drains_in_order_nothing_lost_nothing_doubled(
    chain_db: Path, tmp_path: Path
):
    # "Down": the lake's parent path is a file, so every read and write fails with an OS
    # error, as an unmounted share would. "Back": it becomes a folder again.
    blocker = tmp_path / "mnt"
    blocker.write_text("not mounted")
    lake = open_lake(blocker / "lake")
    written: list[str] = []
    real_write = lake.write_atomic

    def recording_write(rel: str, data: bytes) -> None:
        real_write(rel, data)
        written.append(rel)

    lake.write_atomic = recording_write  # type: ignore[method-assign]
    with Writer(chain_db) as writer:
        loop = PublishLoop(writer.cursor, lake, interval_s=0.2, base_s=0.05, max_s=0.2).start()
        try:
            deadline = time.monotonic() + 60
            while loop.failures < 3:
                assert time.monotonic() < deadline, "the loop did not retry while the lake was down"
                time.sleep(0.02)
            assert "lake" in (loop.last_error or "")
            assert written == []
            # The store keeps working meanwhile: its writer still commits.
            writer.append(
                "transactions",
                pa.table(
                    {
                        "transaction_id": ["during-outage"],
                        "ts": pa.array(
                            [datetime(2026, 2, 27, 10, 5, tzinfo=UTC)], pa.timestamp("us", tz="UTC")
                        ),
                        "store_id": ["s01"],
                        "register": ["r1"],
                        "amount": [10.0],
                    }
                ),
                "outage-1",
            )
            writer.flush()
            writer.rollup_now()
            blocker.unlink()
            blocker.mkdir()
            deadline = time.monotonic() + 120
            while loop.last_summary is None:
                assert time.monotonic() < deadline, f"backlog did not drain: {loop.last_error}"
                time.sleep(0.05)
        finally:
            loop.stop()
        assert loop.failures == 0
    # In order: per store, data oldest day first, and the manifest after its data.
    for sid in ("demo", "s01", "s02", "s03", "s04"):
        mine = [k for k in written if f"store_id={sid}/" in k]
        data_days = [k.split("/")[3].split("=")[1] for k in mine if "/date=" in k]
        assert data_days == sorted(data_days)
        first_manifest = next(i for i, k in enumerate(mine) if k.startswith("_manifests/"))
        assert all(not k.startswith("table=") for k in mine[first_manifest:])
    # Nothing lost, nothing doubled; the sale made during the outage is in the lake.
    for table, rows in rows_per_table(chain_db).items():
        assert lake_rows(blocker / "lake", table) == rows, table
    assert_lake_serves_same_kpis(blocker / "lake", chain_db)


def test_the_pipeline_publishes_in_the_background_when_a_lake_is_set(
    chain_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # What `storelens up --lake` gives the pipeline process (app/supervisor.py).
    monkeypatch.setenv("STORELENS_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("STORELENS_LAKE_INTERVAL_S", "1")
    with Writer(chain_db) as writer:
        loop = loop_from_env(writer.cursor)
        assert loop is not None
        try:
            deadline = time.monotonic() + 120
            while loop.last_summary is None:
                assert time.monotonic() < deadline, f"nothing published: {loop.last_error}"
                time.sleep(0.05)
        finally:
            loop.stop()
    assert sorted(s["store_id"] for s in lake_status(open_lake(tmp_path / "lake"))) == [
        "demo",
        "s01",
        "s02",
        "s03",
        "s04",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [("soon", "STORELENS_LAKE_INTERVAL_S='soon' is not a number"), ("0", "between 1 and 86400")],
)
def test_a_bad_publish_interval_names_the_variable(
    value: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("STORELENS_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("STORELENS_LAKE_INTERVAL_S", value)
    with pytest.raises(InvalidParams, match=message):
        loop_from_env(lambda: None)  # type: ignore[arg-type,return-value]


def test_no_lake_no_publisher(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("STORELENS_LAKE", raising=False)
    assert loop_from_env(lambda: None) is None  # type: ignore[arg-type,return-value]


def test_backoff_doubles_and_is_capped():
    loop = PublishLoop(lambda: None, open_lake("/nonexistent-lake"), base_s=1, max_s=8)  # type: ignore[arg-type]
    delays = []
    for failures in range(1, 7):
        loop.failures = failures
        delays.append(loop.next_delay())
    assert [round(d / b, 1) for d, b in zip(delays, [1, 2, 4, 8, 8, 8], strict=True)] == [
        pytest.approx(x, abs=0.21) for x in [1.0] * 6
    ]


def test_unreachable_lake_raises_lake_unavailable(chain_db: Path, tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LakeUnavailable, match="lake"):
        publish_db(chain_db, open_lake(blocker / "lake"))


# ----------------------------------------------------------------------- chain reading


def test_role_scoping_on_lake_data(published_lake: Path):
    reader = LakeReader(published_lake)
    lead = User("nora", Role.REGIONAL_LEAD, region="North")
    scope = scope_for(lead, reader)
    assert scope.stores == frozenset({"s01", "s02", "s03"})
    flt = kpi.KpiFilter(START, END, (), "day")
    table = kpi.store_comparison(reader, flt, scope)
    assert table["store_id"].to_list() == ["s01", "s02", "s03"]
    assert set(table["region"].to_list()) == {"North"}
    with pytest.raises(AccessDenied):  # a forged store of another region
        kpi.store_comparison(reader, flt.with_(stores=("s04",)), scope)
    with pytest.raises(AccessDenied):
        kpi.headline(reader, "demo", START, END, scope)
    forged_region = User("eve", Role.REGIONAL_LEAD, region="Atlantis")
    assert kpi.store_comparison(reader, flt, scope_for(forged_region, reader)).is_empty()
    manager = User("sam", Role.STORE_MANAGER, store="s02")
    assert kpi.store_comparison(reader, flt, scope_for(manager, reader))["store_id"].to_list() == [
        "s02"
    ]


def test_missing_hours_are_missing_not_zero(chain_db: Path, tmp_path: Path):
    day = END - timedelta(days=2)
    con = duckdb.connect(str(chain_db))
    try:  # s03 published nothing for 10:00-12:59 local that day (its pipeline was down)
        gone = con.execute(
            """DELETE FROM hourly_traffic WHERE store_id = 's03'
               AND local_hour >= ? AND local_hour < ? RETURNING local_hour""",
            [
                datetime(day.year, day.month, day.day, 10),
                datetime(day.year, day.month, day.day, 13),
            ],
        ).fetchall()
    finally:
        con.close()
    assert len(gone) == 3
    root = tmp_path / "lake"
    publish_db(chain_db, open_lake(root))
    status = {s["store_id"]: s for s in lake_status(open_lake(root))}
    assert status["s03"]["missing_hours_total"] == 3
    assert status["s03"]["missing_hours"] == [
        datetime(day.year, day.month, day.day, h).isoformat() for h in (10, 11, 12)
    ]
    assert status["s01"]["missing_hours_total"] == 0
    reader = LakeReader(root)
    hourly = kpi.visitors(reader, kpi.KpiFilter(day, day, ("s03",), "hour"), EVERYONE)
    by_hour = {b.hour: v for b, v in hourly.select("bucket", "visitors").iter_rows()}
    # Sales and shifts exist for those hours, the cameras' numbers do not: missing, not 0.
    assert [by_hour.get(h) for h in (10, 11, 12)] == [None, None, None]
    assert all(by_hour[h] > 0 for h in (9, 13))
    conv = kpi.conversion(reader, kpi.KpiFilter(day, day, ("s03",), "hour"), EVERYONE)
    assert conv.filter(pl.col("bucket").dt.hour() == 11)["conversion"].to_list() == [None]
    fresh = {r["store_id"]: r for r in reader.freshness().iter_rows(named=True)}
    assert fresh["s03"]["missing_hours_total"] == 3


def test_freshness_is_measured_from_the_newest_published_hour(chain_db: Path, tmp_path: Path):
    root = tmp_path / "lake"
    publish_db(chain_db, open_lake(root), ["s01"])
    status = lake_status(open_lake(root))[0]
    newest = datetime.fromisoformat(status["newest_hour"])
    later = lake_status(open_lake(root), now=newest + timedelta(hours=3))[0]
    assert later["lag_hours"] == 2.0  # the hour is complete one hour after it starts
    # Whether that is late depends on the opening hours: tests/chain/test_freshness_hours.py


def test_lake_reader_is_read_only(tmp_path: Path):
    reader = LakeReader(tmp_path / "empty")
    assert reader.query("stores").is_empty()
    with pytest.raises(Exception, match="read-only"):
        reader.ack_alert(1, "me")


# ----------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "lake URL is empty"),
        ("ftp://host/x", "scheme 'ftp' is not supported"),
        ("s3://key:secret@bucket/x", "carries credentials: remove them and set STORELENS_LAKE_KEY"),
        ("s3:///prefix", "no bucket"),
        ("s3://bucket/x?endpint=http://h:1", r"unknown option\(s\) \['endpint'\]"),
        ("s3://bucket/x?endpoint=h:1", "endpoint='h:1'"),
    ],
)
def test_bad_lake_urls_name_the_field_and_the_fix(url: str, message: str):
    with pytest.raises(InvalidParams, match=message):
        open_lake(url)


def test_a_store_id_that_would_escape_its_prefix_is_refused(tmp_path: Path):
    with pytest.raises(
        InvalidParams, match=re.escape("store_id '../s02' cannot be used in a lake path")
    ):
        open_lake(tmp_path).data_key("hourly_sales", "North", "../s02", "date", "2026-01-01")


def test_publishing_an_unknown_store_names_the_option(chain_db: Path, tmp_path: Path):
    with pytest.raises(InvalidParams, match="store 'nope' is not in this database; `--store`"):
        publish_db(chain_db, open_lake(tmp_path / "lake"), ["nope"])


def test_everything_lands_with_day_partitions_for_hourly_and_year_for_daily(
    chain_db: Path, tmp_path: Path
):
    root = tmp_path / "lake"
    publish_db(chain_db, open_lake(root), ["s01"])
    days = {p.parent.name for p in root.glob("table=hourly_traffic/region=North/store_id=s01/*/*")}
    assert days == {f"date={END - timedelta(days=i)}" for i in range(8)}
    years = {p.parent.name for p in root.glob("table=daily_store/*/*/*/*")}
    assert years == {f"year={END.year}"}
    assert date.fromisoformat(lake_status(open_lake(root))[0]["newest_local_hour"][:10]) == END


def test_alert_counts_and_camera_health_are_published_as_aggregates(tmp_path: Path):
    from storelens.data.actions import ack_alert
    from storelens.data.catalog import upsert_camera, upsert_store
    from storelens.data.sink import BATCH_SCHEMAS, AlertRow, to_arrow

    db = tmp_path / "health.duckdb"
    hour = datetime(2026, 3, 2, 10, tzinfo=UTC)
    ts = pa.timestamp("us", tz="UTC")
    with Writer(db) as writer:

        def catalog(con) -> None:
            upsert_store(con, "h1", "Health", "West", "UTC", 8, 20, 100.0)
            upsert_camera(con, "h1-door", "h1", "door", "entrance", None, {}, {})
            upsert_camera(con, "h1-till", "h1", "till", "checkout", None, {}, {})

        writer.execute_admin(catalog)
        frames = [hour + timedelta(seconds=s) for s in range(0, 601, 60)]  # 11 frames, 10 min
        writer.append(
            "detections",
            pa.table(
                {
                    "ts": pa.array([f for f in frames for _ in range(2)], ts),  # 2 boxes each
                    "camera_id": ["h1-door"] * 22,
                    "track_id": list(range(22)),
                    "class": ["person"] * 22,
                    "x1": [1.0] * 22,
                    "y1": [1.0] * 22,
                    "x2": [5.0] * 22,
                    "y2": [9.0] * 22,
                    "conf": [0.9] * 22,
                }
            ),
            "health-dets",
        )
        writer.append(
            "alerts",
            to_arrow(
                [
                    AlertRow((hour + timedelta(minutes=m)).timestamp(), "h1-till", kind, "private")
                    for m, kind in ((5, "queue_wait"), (6, "queue_wait"), (7, "frustrated_shopper"))
                ],
                BATCH_SCHEMAS["alerts"],
            ),
            "health-alerts",
        )
        writer.flush()
        writer.execute_admin(lambda con: ack_alert(con, 1, "mia"))
        writer.rollup_now()
    root = tmp_path / "lake"
    publish_db(db, open_lake(root))
    alerts = pq.read_table(
        root / "table=alert_counts/region=West/store_id=h1/date=2026-03-02/part-0.parquet"
    ).to_pylist()
    # One frustrated shopper is one face's reading: under the minimum group, not published.
    assert [
        (a["kind"], a["alerts"], a["acknowledged"], a["readable_under_minimum"]) for a in alerts
    ] == [
        ("frustrated_shopper", None, None, True),
        ("queue_wait", 2, 1, False),
    ]
    assert "detail" not in alerts[0]  # the free text stays in the store
    health = pq.read_table(
        root / "table=camera_health/region=West/store_id=h1/date=2026-03-02/part-0.parquet"
    ).to_pylist()
    assert len(health) == 1  # the till camera saw nothing: a gap, no row
    door = health[0]
    assert (door["camera_id"], door["frames"], door["boxes"], door["active_s"]) == (
        "h1-door",
        11,
        22,
        600.0,
    )
    assert door["uptime_share"] == pytest.approx(600 / 3600)
    assert door["analysed_fps"] == pytest.approx(11 / 600)
    assert "track_id" not in door and "x1" not in door  # aggregates only
    # HQ sees the store's data health in its manifest (24 h, both cameras).
    status = lake_status(open_lake(root))[0]
    assert status["camera_uptime_24h"] == pytest.approx(600 / 86400 / 2, abs=1e-4)  # 2 cameras
    assert status["analysed_fps_24h"] == pytest.approx(11 / 600, abs=1e-3)


def test_a_store_that_moves_region_is_republished_once_and_read_once(
    chain_db: Path, tmp_path: Path
):
    # The demo config renames the seeded demo store's region when the pipeline starts:
    # its objects move to the new region path and the old copies go.
    root = tmp_path / "lake"
    publish_db(chain_db, open_lake(root), ["s01"])
    con = duckdb.connect(str(chain_db))
    try:
        con.execute("UPDATE stores SET region = 'West' WHERE store_id = 's01'")
    finally:
        con.close()
    publish_db(chain_db, open_lake(root), ["s01"])
    assert not list(root.glob("table=*/region=North/store_id=s01/*/*.parquet"))
    # Even a copy the store's key could not delete is never read: readers follow the
    # manifest's region, listing per store or the whole table.
    stray = root / "table=daily_store/region=North/store_id=s01/year=2026/part-0.parquet"
    stray.parent.mkdir(parents=True, exist_ok=True)  # the emptied folder may remain
    stray.write_bytes(
        (root / "table=daily_store/region=West/store_id=s01/year=2026/part-0.parquet").read_bytes()
    )
    local = LocalReader(chain_db, hold_s=0)
    flt = kpi.KpiFilter(START, END, ("s01",), "day")
    for whole_table_at in (1, 1000):
        reader = LakeReader(root, list_whole_table_at=whole_table_at)
        assert reader.query("stores")["region"].to_list() == ["West"]
        assert_same_frame(kpi.metrics(reader, flt, EVERYONE), kpi.metrics(local, flt, EVERYONE))
    assert daily_kpis_duckdb(open_lake(root)).num_rows == 8
    stray.unlink()
    assert publish_db(chain_db, open_lake(root), ["s01"]).written == 0


def test_hour_queries_read_only_the_days_asked_for(published_lake: Path, chain_db: Path):
    reader = LakeReader(published_lake)
    local = LocalReader(chain_db, hold_s=0)
    two_days = kpi.KpiFilter(END - timedelta(days=1), END, ("s01",), "hour")
    assert_same_frame(
        kpi.metrics(reader, two_days, EVERYONE), kpi.metrics(local, two_days, EVERYONE)
    )
    assert reader.loads == 2 * 3  # 2 day objects of hourly traffic, sales and staff
    three_days = two_days.with_(start=END - timedelta(days=2))
    assert_same_frame(
        kpi.metrics(reader, three_days, EVERYONE), kpi.metrics(local, three_days, EVERYONE)
    )
    assert reader.loads == 3 * 3  # only the new day was read
    kpi.metrics(reader, two_days, EVERYONE)
    assert reader.loads == 9  # warm


# ----------------------------------------------------------------------- one KPI definition


def test_the_lake_export_is_data_kpi_on_the_lake(published_lake: Path):
    """DuckDB only sums; the KPIs (interval included) are data.kpi's, equal to what the
    chain reader's pages compute from the same lake."""
    daily = pl.from_arrow(daily_kpis_duckdb(open_lake(published_lake)))
    assert isinstance(daily, pl.DataFrame)
    assert_same_frame(daily, kpi_daily_table(published_lake))
    assert daily["satisfaction_low"].is_not_null().any()
    weekly = pl.from_arrow(weekly_kpis_duckdb(open_lake(published_lake)))
    assert isinstance(weekly, pl.DataFrame)
    second = weekly.filter(pl.col("visitors_wow_pct").is_not_null()).row(0, named=True)
    first = weekly.filter(
        (pl.col("store_id") == second["store_id"]) & (pl.col("week") < second["week"])
    ).row(0, named=True)
    assert second["conversion"] == second["transactions"] / second["visitors"]
    assert math.isclose(
        second["visitors_wow_pct"], 100 * (second["visitors"] / first["visitors"] - 1)
    )


# Where a KPI gets its name: SQL ``AS name`` or polars/Spark ``.alias("name")``.
def _naming(names: list[str]) -> re.Pattern[str]:
    alt = "|".join(names)
    return re.compile(rf'(?i:\bAS\s+)(?:{alt})\b|\.alias\(\s*["\'](?:{alt})["\']')


def test_each_kpi_is_defined_once_in_product_code():
    """Issue 13: grep finds one definition. Only data/kpi/definitions.py names a KPI
    column; the lake export, the Spark job, the pages and the readers take them from there."""
    pattern = _naming([*kpi.kpi_exprs(), "visitors_wow_pct", "sales_wow_pct"])
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("data", "jobs", "dashboard", "kernel", "detectors")
        for path in sorted((REPO / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert found and all(f.startswith("data/kpi/definitions.py:") for f in found), found
