"""Fault: the disk fills while the one Writer commits (issue 6, item 1).

A real 8 MB tmpfs (we run as root in CI; where mounting is not permitted the test skips
with the reason), a real DuckDB file on it, a ballast file that eats the free space and
is deleted to give the space back. The WAL that cannot be replayed is covered by
tests/data/test_data_writer.py::test_unreplayable_wal_is_moved_aside_loudly.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from storelens.data.writer import Writer

pytestmark = pytest.mark.fault


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot run mount here ({exc}); the disk-full fault needs a small tmpfs")
    if done.returncode != 0:
        pytest.skip(f"mount -t tmpfs not permitted here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=30)


def _detections(n: int, first_track: int) -> pa.Table:
    now = int(time.time() * 1_000_000)
    ts = pa.array([now] * n, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    box = pa.array([1.0] * n, pa.float32())
    return pa.table(
        {
            "ts": ts,
            "camera_id": ["cam"] * n,
            "track_id": pa.array(range(first_track, first_track + n), pa.int64()),
            "class": ["person"] * n,
            "x1": box,
            "y1": box,
            "x2": box,
            "y2": box,
            "conf": box,
        }
    )


def _fill(mount: Path, leave_bytes: int) -> Path:
    st = os.statvfs(mount)
    ballast = mount / "ballast.bin"
    with ballast.open("wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave_bytes))
    return ballast


def test_disk_full_is_reported_writer_survives_and_recovers(small_disk: Path, fault_record) -> None:
    db = small_disk / "store.duckdb"
    writer = Writer(db)
    try:
        writer.flush(30)
        ballast = _fill(small_disk, leave_bytes=1_500_000)
        i = 0
        while writer.stats.batches_failed < 2 and i < 500:
            writer.append("detections", _detections(2000, i * 2000), f"full:{i}")
            writer.flush(60)
            i += 1
        assert writer.stats.batches_failed >= 2, "the disk never filled: is the tmpfs 8 MB?"
        committed_rows_before = writer.stats.rows_committed
        assert writer.alive, "the writer thread died on a full disk"
        assert writer.stats.last_errors, "a full disk was not reported"
        full_at = time.monotonic()

        ballast.unlink()  # space returns
        writer.append("detections", _detections(2000, 10**7), "after:0")
        writer.flush(60)
        recovery_s = time.monotonic() - full_at
        for j in range(1, 4):
            writer.append("detections", _detections(2000, 10**7 + j * 2000), f"after:{j}")
        writer.flush(60)
        assert writer.stats.rows_committed == committed_rows_before + 4 * 2000
        stored = writer.cursor().execute("SELECT count(*) FROM detections").fetchall()[0][0]
        assert stored == writer.stats.rows_committed
        failed = writer.stats.batches_failed
    finally:
        writer.close()
    con = duckdb.connect(str(db), read_only=True)  # the file is whole after the episode
    try:
        assert con.execute("SELECT count(*) FROM detections").fetchall()[0][0] == stored
    finally:
        con.close()
    fault_record(
        "disk full (8 MB tmpfs) while committing",
        recovery_s,
        f"{failed} batches ({failed * 2000} rows)",
        "failed batches are dropped, not retried; writer alive; commits resume when space returns",
    )


def test_disk_full_error_names_the_cause(small_disk: Path) -> None:
    # Was masked by a failing ROLLBACK ('no transaction is active'); fixed in data/writer.py.
    writer = Writer(small_disk / "store.duckdb")
    try:
        writer.flush(30)
        _fill(small_disk, leave_bytes=1_000_000)
        i = 0
        while writer.stats.batches_failed < 1 and i < 500:
            writer.append("detections", _detections(2000, i * 2000), f"full:{i}")
            writer.flush(60)
            i += 1
        assert writer.stats.batches_failed >= 1
        assert any("No space left on device" in e for e in writer.stats.last_errors), list(
            writer.stats.last_errors
        )
    finally:
        writer.close()
