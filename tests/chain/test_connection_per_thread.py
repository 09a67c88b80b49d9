"""Issue 18 item 12: "rollup failed (dirty hours kept for the next try): Resource In Use
Error: connection is busy with another call". DuckDB 2 refuses a second call on one
connection object instead of waiting, so every thread must read on its own cursor.

Here the store runs as in the pipeline: the writer commits and rolls up every 50 ms while
the lake publish loop, the read API's reads (a writer cursor per request) and the chain
reader's pages (several threads) all run at once, on a real DuckDB file and a real lake
folder. No call may be refused."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from storelens.data import kpi
from storelens.data.lake import PublishLoop, open_lake
from storelens.data.lake_reader import LakeReader
from storelens.data.reader import WriterReader
from storelens.data.writer import Writer, WriterConfig

from tests.chain.chainlib import END, EVERYONE, START

DEADLINE_S = 240.0


def _sale(i: int) -> pa.Table:
    ts = datetime(END.year, END.month, END.day, 10, 0, tzinfo=UTC) + timedelta(seconds=i)
    return pa.table(
        {
            "transaction_id": [f"concurrent-{i}"],
            "ts": pa.array([ts], pa.timestamp("us", tz="UTC")),
            "store_id": [("s01", "s02", "s03", "s04", "demo")[i % 5]],
            "register": ["r1"],
            "amount": [1.0 + i],
        }
    )


def test_rollup_publish_and_reads_run_concurrently_without_a_busy_connection(
    chain_db: Path, tmp_path: Path
):
    root = tmp_path / "lake"
    failures: list[str] = []
    done = threading.Event()
    counts = {"appended": 0, "api_reads": 0, "lake_reads": 0}
    with Writer(chain_db, WriterConfig(rollup_interval_s=0.05)) as writer:
        loop = PublishLoop(writer.cursor, open_lake(root), interval_s=0.05, base_s=0.05)
        api = WriterReader(writer)  # what the read API does: a writer cursor per request
        hour = kpi.KpiFilter(START, END, (), "hour")

        def guarded(name: str, body) -> None:
            try:
                while not done.is_set():
                    body()
            except Exception as exc:  # any refusal is the bug
                failures.append(f"{name}: {exc!r}")
                done.set()

        def append() -> None:
            i = counts["appended"]
            writer.append("transactions", _sale(i), f"concurrent-{i}")
            counts["appended"] += 1
            time.sleep(0.005)

        def api_read() -> None:
            assert kpi.metrics(api, hour, EVERYONE).height > 0
            counts["api_reads"] += 1

        lake_reader = LakeReader(root, refresh_s=0.0)

        def lake_read() -> None:
            lake_reader.query("stores")
            kpi.metrics(lake_reader, hour, EVERYONE)
            counts["lake_reads"] += 1

        threads = [
            threading.Thread(target=guarded, args=(n, f), name=n)
            for n, f in (
                ("append", append),
                ("api-1", api_read),
                ("api-2", api_read),
                ("lake-1", lake_read),
                ("lake-2", lake_read),
            )
        ]
        loop.start()
        for t in threads:
            t.start()
        try:
            deadline = time.monotonic() + DEADLINE_S
            while not done.is_set():
                enough = (
                    writer.stats.rollups >= 30
                    and loop.rounds >= 5
                    and counts["api_reads"] >= 20
                    and counts["lake_reads"] >= 20
                )
                if enough:
                    break
                assert time.monotonic() < deadline, (writer.stats.rollups, loop.rounds, counts)
                time.sleep(0.05)
        finally:
            done.set()
            for t in threads:
                t.join(60)
            loop.stop(60)
            lake_reader.close()
        writer.flush(60)
        errors = list(writer.stats.last_errors)
        rollups = writer.stats.rollups
    assert not failures, failures
    assert not errors, errors  # "rollup failed ... connection is busy" would be here
    assert loop.failures == 0 and loop.last_error is None, loop.last_error
    assert rollups >= 30 and counts["appended"] > 0


def test_an_admin_call_never_hands_the_writers_connection_to_another_thread(tmp_path: Path):
    # The one way the writer's own connection could reach another thread: an admin call
    # returning con.execute(...) (the connection itself) or con.sql(...) (a lazy relation
    # on it). Fetched by the caller while the writer rolls up, one call was refused.
    with Writer(tmp_path / "admin.duckdb", WriterConfig(rollup_interval_s=0.05)) as writer:
        assert writer.execute_admin(lambda con: con.execute("SELECT 1")) is None
        got = writer.execute_admin(lambda con: con.sql("SELECT range AS i FROM range(5)"))
        assert isinstance(got, pa.Table) and got.column("i").to_pylist() == [0, 1, 2, 3, 4]
        for i in range(50):  # the writer commits and rolls up between the calls
            rows = writer.execute_admin(lambda con: con.sql("SELECT count(*) AS n FROM stores"))
            assert rows.column("n").to_pylist() == [0]
            writer.append("transactions", _sale(i), f"admin-{i}")
            writer.flush(60)
        assert not writer.stats.last_errors, writer.stats.last_errors
