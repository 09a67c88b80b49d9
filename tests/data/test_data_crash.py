"""kill -9 of a real writer process loses at most the batch in flight."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from storelens.data.db import open_database

CHILD = Path(__file__).with_name("crash_child.py")
ROWS = 200


@pytest.mark.fault
@pytest.mark.parametrize("kill_after", [15, 40])
def test_kill_9_loses_nothing_that_was_committed(tmp_path: Path, kill_after: int):
    path = tmp_path / "crash.duckdb"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    last_committed = -1
    deadline = time.monotonic() + 120
    try:
        assert child.stdout is not None
        for line in child.stdout:
            last_committed = int(line.split()[1])
            if last_committed >= kill_after or time.monotonic() > deadline:
                break
        # Kill while the next batch is on its way in.
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert last_committed >= kill_after, child.stderr.read() if child.stderr else ""
    assert child.returncode == -signal.SIGKILL

    con = open_database(path)  # writable: replays the WAL like a restarted pipeline would
    try:
        ledger = sorted(
            int(r[0].split("-")[1])
            for r in con.execute("SELECT batch_id FROM batch_ledger").fetchall()
        )
        per_batch = dict(
            con.execute("SELECT CAST(value AS INTEGER), count(*) FROM events GROUP BY 1").fetchall()
        )
    finally:
        con.close()
    # Every batch the writer confirmed is there, in full; at most the one in flight beyond it.
    assert ledger == list(range(len(ledger)))
    assert last_committed + 1 <= len(ledger) <= last_committed + 2
    assert sorted(per_batch) == ledger
    assert set(per_batch.values()) == {ROWS}  # no half batch: one transaction per group
