"""The one writer: schema, idempotent batches, rollups, retention, admin work, recovery."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from storelens.data.actions import ack_alert
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.db import latest_version, open_database
from storelens.data.errors import (
    DatabaseLocked,
    DatabaseUnavailable,
    InvalidParams,
    SchemaMismatch,
    WriterClosed,
)
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.sink import AlertRow, to_arrow
from storelens.data.writer import RetentionPolicy, Writer, WriterConfig

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def events(n: int, start: datetime = T0, camera: str = "c1", kind: str = "enter") -> pa.Table:
    return pa.table(
        {
            "ts": [start + timedelta(seconds=i) for i in range(n)],
            "camera_id": [camera] * n,
            "track_id": list(range(n)),
            "kind": [kind] * n,
            "zone": [None] * n,
            "value": [None] * n,
        },
        schema=BATCH_SCHEMAS["events"],
    )


def detections(n: int, start: datetime) -> pa.Table:
    return pa.table(
        {
            "ts": [start] * n,
            "camera_id": ["c1"] * n,
            "track_id": list(range(n)),
            "class": ["person"] * n,
            "x1": [0.0] * n,
            "y1": [0.0] * n,
            "x2": [10.0] * n,
            "y2": [20.0] * n,
            "conf": [0.9] * n,
        },
        schema=BATCH_SCHEMAS["detections"],
    )


@pytest.fixture
def writer(tmp_path: Path):
    w = Writer(tmp_path / "w.duckdb")
    w.execute_admin(lambda con: upsert_store(con, "s1", "One", "North", "UTC", 8, 20, 100))
    w.execute_admin(lambda con: upsert_camera(con, "c1", "s1", "door", "entrance"))
    yield w
    w.close()


def count(w: Writer, sql: str) -> int:
    cur = w.cursor()
    try:
        return cur.execute(sql).fetchall()[0][0]
    finally:
        cur.close()


def test_migrations_are_versioned_and_applied_once(tmp_path: Path):
    path = tmp_path / "m.duckdb"
    open_database(path).close()
    con = open_database(path)  # second open: nothing to apply, nothing fails
    versions = [
        r[0] for r in con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    ]
    con.close()
    assert versions == list(range(1, latest_version() + 1))


def test_read_only_open_of_a_missing_file_says_how_to_create_it(tmp_path: Path):
    with pytest.raises(DatabaseUnavailable, match="demo seed"):
        open_database(tmp_path / "nope.duckdb", read_only=True)


def test_replayed_batch_adds_nothing(writer: Writer):
    batch = events(5)
    writer.append("events", batch, "b-1")
    writer.append("events", batch, "b-1")  # queued twice: grouped in one commit
    writer.flush()
    writer.append("events", batch, "b-1")  # replayed after commit
    writer.flush()
    assert count(writer, "SELECT count(*) FROM events") == 5
    assert count(writer, "SELECT count(*) FROM batch_ledger") == 1
    assert writer.stats.batches_duplicate == 2
    writer.append("events", batch, "b-2")  # a new id is new data
    writer.flush()
    assert count(writer, "SELECT count(*) FROM events") == 10


def test_wrong_columns_are_rejected_in_the_callers_thread(writer: Writer):
    bad = events(2).drop_columns(["zone"])
    with pytest.raises(SchemaMismatch, match="zone"):
        writer.append("events", bad, "bad-1")
    naive = events(2).set_column(0, "ts", pa.array([datetime(2026, 1, 1)] * 2, pa.timestamp("us")))
    with pytest.raises(SchemaMismatch, match="time-zone-aware"):
        writer.append("events", naive, "bad-2")
    with pytest.raises(SchemaMismatch, match="unknown table"):
        writer.append("frames", events(1), "bad-3")
    writer.flush()
    assert count(writer, "SELECT count(*) FROM events") == 0


def test_compatible_types_are_cast(writer: Writer):
    table = events(3)
    table = table.set_column(2, "track_id", table["track_id"].cast(pa.int32()))
    writer.append("events", table, "cast-1")
    writer.flush()
    assert count(writer, "SELECT count(*) FROM events") == 3


def test_rollup_follows_new_batches(writer: Writer):
    writer.append("events", events(4), "r-1")
    writer.flush()
    assert count(writer, "SELECT sum(visitors) FROM hourly_traffic") == 4
    # Two more tracks in the same hour: the hour is recomputed, not double counted.
    writer.append("events", events(6), "r-2")
    writer.flush()
    assert count(writer, "SELECT sum(visitors) FROM hourly_traffic") == 6
    assert count(writer, "SELECT count(*) FROM hourly_traffic") == 1
    assert count(writer, "SELECT count(*) FROM rollup_dirty") == 0


def track(
    last: datetime,
    valence: str | None,
    faces: int,
    probs: tuple[float, float, float] | tuple[None, None, None] = (None, None, None),
    track_id: int = 7,
) -> pa.Table:
    return pa.table(
        {
            "camera_id": ["c1"],
            "track_id": [track_id],
            "first_ts": [T0],
            "last_ts": [last],
            "zones": ['["floor"]'],
            "valence": [valence],
            "faces_read": [faces],
            "p_satisfied": [probs[0]],
            "p_neutral": [probs[1]],
            "p_frustrated": [probs[2]],
        },
        schema=BATCH_SCHEMAS["tracks"],
    )


def test_track_resent_as_it_grows_keeps_the_latest_version(writer: Writer):

    writer.append("tracks", track(T0 + timedelta(seconds=5), None, 0), "t-1")
    writer.append("tracks", track(T0 + timedelta(seconds=30), "satisfied", 3), "t-2")
    writer.flush()
    cur = writer.cursor()
    rows = cur.execute("SELECT valence, faces_read FROM tracks").fetchall()
    cur.close()
    assert rows == [("satisfied", 3)]
    assert count(writer, "SELECT sum(satisfied) FROM hourly_traffic") == 1


def test_rollups_hold_expected_counts_from_calibrated_probabilities(writer: Writer):
    """A track read as satisfied with P = 0.7 / 0.2 / 0.1 adds 0.7 satisfied, 0.1
    frustrated; one without probabilities is a hard vote; unreadable tracks add nothing."""
    later = T0 + timedelta(seconds=30)
    writer.append("tracks", track(later, "satisfied", 3, (0.7, 0.2, 0.1), track_id=1), "p-1")
    writer.append("tracks", track(later, "frustrated", 2, track_id=2), "p-2")
    writer.append("tracks", track(later, "unknown", 1, (0.3, 0.3, 0.4), track_id=3), "p-3")
    writer.flush()
    cur = writer.cursor()
    row = cur.execute(
        "SELECT tracks_readable, satisfied, neutral, frustrated FROM hourly_traffic"
    ).fetchall()[0]
    daily = cur.execute("SELECT satisfied, frustrated FROM daily_store").fetchall()[0]
    cur.close()
    assert row[0] == 2
    assert row[1:] == pytest.approx((0.7, 0.2, 1.1), abs=1e-6)
    assert daily == pytest.approx((0.7, 1.1), abs=1e-6)


def test_retention_expires_raw_rows_but_keeps_rollups(tmp_path: Path):
    config = WriterConfig(retention=RetentionPolicy(detections=7, events=30))
    with Writer(tmp_path / "r.duckdb", config) as w:
        w.execute_admin(lambda con: upsert_store(con, "s1", "One", "North", "UTC", 8, 20, 100))
        w.execute_admin(lambda con: upsert_camera(con, "c1", "s1", "door", "entrance"))
        now = datetime(2026, 3, 20, 12, tzinfo=UTC)
        w.append("detections", detections(3, now - timedelta(days=8)), "d-old")
        w.append("detections", detections(2, now - timedelta(days=6)), "d-new")
        w.append("events", events(4, now - timedelta(days=31)), "e-old")
        w.append("events", events(1, now - timedelta(days=29)), "e-new")
        w.flush()
        deleted = w.run_retention(now=now)
        assert deleted["detections"] == 3
        assert deleted["events"] == 4
        assert count(w, "SELECT count(*) FROM detections") == 2
        assert count(w, "SELECT count(*) FROM events") == 1
        # The hour of the expired events is still in the long-range rollup.
        assert count(w, "SELECT sum(visitors) FROM hourly_traffic") == 5


def test_retention_policy_is_bounded():
    with pytest.raises(ValueError):
        RetentionPolicy(detections=0)
    with pytest.raises(ValueError):
        WriterConfig(surprise=1)  # type: ignore[call-arg]


def test_alert_rows_become_acknowledgeable_alerts_with_their_response_time(writer: Writer):
    raised = time.time() - 95
    row = AlertRow(raised, "cam-1", "queue_wait", "Till · checkout: 4:00 min", "checkout", "queue")
    writer.append("alerts", to_arrow([row], BATCH_SCHEMAS["alerts"]), "a-1")
    # An "alert" event is an event, nothing more: alerts have one way in (issue 20 item 5).
    writer.append("events", events(1, kind="alert"), "e-1")
    writer.flush()
    alert_id = count(writer, "SELECT alert_id FROM alerts")
    assert writer.execute_admin(lambda con: ack_alert(con, alert_id, "maria")) is True
    assert writer.execute_admin(lambda con: ack_alert(con, alert_id, "maria")) is False
    cur = writer.cursor()
    got = cur.execute(
        "SELECT detail, zone, zone_kind, acknowledged_by, response_s, (SELECT count(*) FROM alerts)"
        " FROM alerts"
    ).fetchall()[0]
    cur.close()
    assert got[:4] == ("Till · checkout: 4:00 min", "checkout", "queue", "maria")
    assert 95 <= got[4] < 95 + 600  # raised -> acknowledged, stored when acknowledged
    assert got[5] == 1
    with pytest.raises(InvalidParams):
        writer.execute_admin(lambda con: ack_alert(con, alert_id, ""))


def test_admin_errors_roll_back_and_reach_the_caller(writer: Writer):
    def half_done(con: duckdb.DuckDBPyConnection) -> None:
        upsert_store(con, "s2", "Two", "South", "UTC")
        upsert_camera(con, "c2", "nowhere", "x", "floor")  # unknown store: raises

    with pytest.raises(InvalidParams, match="nowhere"):
        writer.execute_admin(half_done)
    assert count(writer, "SELECT count(*) FROM stores WHERE store_id = 's2'") == 0
    with pytest.raises(InvalidParams, match="time zone"):
        writer.execute_admin(lambda con: upsert_store(con, "s3", "Three", "X", "Mars/Olympus"))


def test_a_bad_batch_in_a_group_does_not_sink_the_others(writer: Writer):
    # An events batch for a camera no store knows is still stored (rows kept, no rollup);
    # what must never happen is a good batch lost because it shared a commit with a bad one.
    good = events(3)
    writer.append("events", good, "g-1")
    writer.append("events", events(2, camera="unknown-cam"), "g-2")
    writer.flush()
    assert count(writer, "SELECT count(*) FROM events") == 5
    assert count(writer, "SELECT sum(visitors) FROM hourly_traffic") == 3


def test_closed_writer_refuses_appends(tmp_path: Path):
    w = Writer(tmp_path / "c.duckdb")
    w.close()
    w.close()  # twice is fine
    with pytest.raises(WriterClosed):
        w.append("events", events(1), "late")


def test_second_writer_process_gets_an_actionable_lock_error(tmp_path: Path):
    import subprocess
    import sys

    path = tmp_path / "lock.duckdb"
    with Writer(path):
        code = (
            "import sys\n"
            "from storelens.data.db import open_database\n"
            "from storelens.data.errors import DatabaseLocked\n"
            f"try:\n    open_database({str(path)!r}, read_only=True)\n"
            "except DatabaseLocked as exc:\n    print('LOCKED', exc)\n    sys.exit(0)\n"
            "sys.exit(3)\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
        )
    assert out.returncode == 0, out.stderr
    assert "read API" in out.stdout
    assert DatabaseLocked.__name__  # the type the dashboard catches


def test_unreplayable_wal_is_moved_aside_loudly(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    path = tmp_path / "bad.duckdb"
    with Writer(path) as w:
        w.append("events", events(3), "x-1")
        w.flush()
    # Leave a real write-ahead log behind (as a crash would), then damage it.
    con = duckdb.connect(str(path))
    con.execute("PRAGMA disable_checkpoint_on_shutdown")
    con.execute("SET checkpoint_threshold = '1TB'")
    con.execute("INSERT INTO live_view_log SELECT now(), 'u', 'r', 'c' FROM range(500)")
    con.close()
    wal = path.with_name(path.name + ".wal")
    assert wal.stat().st_size > 0
    damaged = bytearray(wal.read_bytes())
    for i in range(100, len(damaged), 7):
        damaged[i] ^= 0xFF
    wal.write_bytes(bytes(damaged))

    caplog.set_level(logging.ERROR, logger="storelens.data.db")
    with Writer(path) as fresh:
        assert count(fresh, "SELECT count(*) FROM events") == 0  # a fresh database started
    assert any("MOVED ASIDE" in r.getMessage() for r in caplog.records)
    moved = sorted(tmp_path.glob("bad.duckdb.corrupt-*"))
    assert [m.name.endswith(".wal") for m in moved] == [False, True]  # file and WAL both kept
    # The moved-aside file, opened without its damaged WAL, still holds everything that was
    # checkpointed before the damage.
    rescue = tmp_path / "rescue.duckdb"
    shutil.copy(moved[0], rescue)
    old = duckdb.connect(str(rescue), read_only=True)
    assert old.execute("SELECT count(*) FROM events").fetchall()[0][0] == 3
    old.close()


def test_a_failed_commit_reports_its_own_cause(writer: Writer):
    # A COMMIT that fails aborts the transaction itself; the cleanup ROLLBACK must not
    # replace the real cause in stats.last_errors (found by the disk-full fault test).
    def failing_commit(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("INSERT INTO live_view_log VALUES (now(), 'u', 'r', 'c')")
        con.execute("COMMIT")  # ends the transaction early ...
        raise RuntimeError("the real cause")  # ... then the work fails

    with pytest.raises(RuntimeError, match="the real cause"):
        writer.execute_admin(failing_commit)
    writer.append("events", events(2), "after-failure")  # the writer is still healthy
    writer.flush()
    assert count(writer, "SELECT count(*) FROM events") == 2
