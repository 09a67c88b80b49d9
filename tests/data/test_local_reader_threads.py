"""LocalReader used by several threads of one process (Streamlit starts a page's new run
while the old one finishes): a short write (live-view row, alert ack) and reads must not
overlap, or DuckDB refuses the read-only open ("already open in the other mode") and the
page shows "Could not read the data" (seen on Live -> Store, issue 10)."""

from __future__ import annotations

import threading
from pathlib import Path

from storelens.data.errors import DataError
from storelens.data.reader import LocalReader
from storelens.data.writer import Writer


def test_reads_and_writes_from_many_threads_never_collide(tmp_path: Path) -> None:
    from storelens.data.catalog import upsert_camera, upsert_store

    db = tmp_path / "threads.duckdb"
    with Writer(db) as writer:

        def seed(con) -> None:
            upsert_store(con, "s1", "Store 1", "north", "UTC")
            upsert_camera(con, "door", "s1", "Door", "entrance", None, [], [])

        writer.execute_admin(seed)
    reader = LocalReader(db, hold_s=0.05)
    failures: list[BaseException] = []

    def writes() -> None:
        for _ in range(15):
            try:
                reader.log_live_view("mia", "store_manager", "door")
            except DataError as exc:
                failures.append(exc)

    def reads() -> None:
        for _ in range(40):
            try:
                assert reader.query("stores", {})["store_id"].to_list() == ["s1"]
            except DataError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=f) for f in (writes, reads, reads, writes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    reader.close()
    assert not failures, failures[:3]
    assert LocalReader(db).query("table_sizes", {}).filter(table="live_view_log")[
        "rows"
    ].to_list() == [30]
