"""Process faults (issue 6, item 1): the real `storelens pipeline` killed with kill -9 while
it writes a batch a second, restarted by the real Supervisor; and a crash loop that the
Supervisor stops after its restart budget."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import duckdb
import pytest
from storelens.app.supervisor import Supervisor

from tests.reliability.support import storelens_home, wait_until, write_config

pytestmark = pytest.mark.fault

APPENDED_TABLES = ("detections", "events", "expressions", "queue_samples")


def test_kill_9_mid_batch_then_supervisor_restart_loses_nothing_committed(
    store_gif: Path, media_dir: Path, tmp_path: Path, pipeline_process, fault_record
) -> None:
    config = write_config(
        tmp_path / "store.toml",
        [
            {"camera_id": "cam-1", "name": "Aisle", "source": str(store_gif)},
            {
                "camera_id": "cam-2",
                "name": "Door",
                "source": str(media_dir / "people-detection.gif"),
            },
        ],
    )
    pp = pipeline_process(config)
    supervisor = Supervisor(pp.argv(), "pipeline", max_restarts=3, window_s=300, env=pp.env())
    supervisor.start()
    pp.proc = supervisor.proc
    try:
        pp.wait_ready()
        assert wait_until(lambda: pp.committed_batches() >= 8, 180), pp.log_tail()
        committed_seen = pp.committed_batches()
        first_pid = supervisor.proc.pid
        os.kill(first_pid, signal.SIGKILL)  # mid-batch: the writer commits every second
        killed_wall, killed_at = time.time(), time.monotonic()
        supervisor.proc.wait(30)

        supervisor.poll()
        assert len(supervisor.restarts) == 1 and supervisor.proc.pid != first_pid
        pp.proc = supervisor.proc
        pp.wait_ready()  # the database opened (a failed open would exit the process)
        db_open_s = time.monotonic() - killed_at
        assert wait_until(lambda: pp.committed_batches() >= 3, 180), pp.log_tail()
        recovery_s = time.monotonic() - killed_at
    finally:
        supervisor.stop(timeout=60)
    assert supervisor.proc.returncode == 0, pp.log_tail()
    assert not list(tmp_path.glob("*.corrupt-*")), "the database was moved aside after kill -9"

    con = duckdb.connect(str(pp.db), read_only=True)
    try:
        ledger = con.execute(
            "SELECT split_part(batch_id, ':', 1) AS run, count(*), count(DISTINCT batch_id), "
            "max(committed_ts) FROM batch_ledger GROUP BY 1 ORDER BY min(committed_ts)"
        ).fetchall()
        assert len(ledger) == 2, f"expected the killed run and the restarted run: {ledger}"
        (_, killed_batches, killed_distinct, killed_last), (_, _, _, _) = ledger
        assert killed_batches == killed_distinct
        # Every batch the killed process reported committed is still there.
        assert killed_batches >= committed_seen
        # No batch counted twice, none half-written: each table holds exactly the rows
        # its ledger entries say were committed.
        for table in APPENDED_TABLES:
            ledger_rows = con.execute(
                "SELECT coalesce(sum(row_count), 0) FROM batch_ledger WHERE table_name = ?", [table]
            ).fetchall()[0][0]
            stored = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            assert stored == ledger_rows, (
                f"{table}: {stored} rows stored, ledger says {ledger_rows}"
            )
        total = con.execute(
            "SELECT count(*), count(DISTINCT batch_id) FROM batch_ledger"
        ).fetchall()[0]
        assert total[0] == total[1]
    finally:
        con.close()
    lost_s = killed_wall - killed_last.timestamp()
    fault_record(
        "pipeline kill -9 mid-batch, Supervisor restart",
        recovery_s,
        f"≤ {lost_s:.1f} s of rows",
        f"DB open + servers up {db_open_s:.1f} s after kill; ledger == table counts",
    )


def test_supervisor_gives_up_on_a_crash_loop_after_its_budget(tmp_path: Path, fault_record) -> None:
    # A crash loop: a child that dies by a signal at every start (a refused config exits
    # 2 and is not restarted at all: tests/test_ports.py and the test below).
    home = storelens_home(tmp_path)
    env = dict(os.environ, STORELENS_HOME=str(home))
    argv = [sys.executable, "-c", "import os; os.abort()"]
    supervisor = Supervisor(argv, "pipeline", max_restarts=2, window_s=300, env=env)
    started = time.monotonic()
    supervisor.start()
    starts = 1
    try:
        while not supervisor.gave_up and time.monotonic() - started < 180:
            before = supervisor.proc
            supervisor.poll()
            if supervisor.proc is not before:
                starts += 1
            time.sleep(0.1)
    finally:
        supervisor.stop()
    assert supervisor.gave_up, "the supervisor never stopped restarting a crash loop"
    assert starts == 3  # the first start plus max_restarts
    assert supervisor.proc.returncode < 0 and not supervisor.refused  # died by its signal
    fault_record(
        "crash loop (abort at start) under Supervisor",
        time.monotonic() - started,
        "0",
        "gave up after 1 start + 2 restarts (max_restarts=2 per 300 s)",
    )


def test_a_refused_config_is_not_restarted_and_changes_nothing(tmp_path: Path) -> None:
    # The real pipeline command with a config it refuses (exit 2): one start, no loop.
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\nstore_id = "s1"\nopening = 9\n')
    env = dict(os.environ, STORELENS_HOME=str(storelens_home(tmp_path)))
    argv = [sys.executable, "-m", "storelens.app.cli", "pipeline", "--config", str(bad)]
    argv += ["--db", str(tmp_path / "x.duckdb")]
    supervisor = Supervisor(argv, "pipeline", max_restarts=2, window_s=300, env=env)
    started = time.monotonic()
    supervisor.start()
    first = supervisor.proc
    try:
        while not supervisor.gave_up and time.monotonic() - started < 120:
            supervisor.poll()
            time.sleep(0.1)
    finally:
        supervisor.stop()
    assert supervisor.gave_up and supervisor.refused
    assert supervisor.proc is first and first.returncode == 2
    assert not (tmp_path / "x.duckdb").exists()  # a refused config changes nothing
