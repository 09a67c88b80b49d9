"""Child process of test_data_crash.py: appends numbered batches until it is killed.

Prints ``committed N`` after batch N is flushed (committed), so the parent knows the last
batch that the writer promised to keep. Not a test module (no test_ prefix).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.writer import Writer, WriterConfig

ROWS = 200


def batch(i: int) -> pa.Table:
    t0 = datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(seconds=i)
    return pa.table(
        {
            "ts": [t0] * ROWS,
            "camera_id": ["c1"] * ROWS,
            "track_id": [i * ROWS + j for j in range(ROWS)],
            "kind": ["enter"] * ROWS,
            "zone": [None] * ROWS,
            "value": [float(i)] * ROWS,
        },
        schema=BATCH_SCHEMAS["events"],
    )


def main(path: str) -> None:
    # Checkpoint often so the kill lands on a mix of checkpointed data and WAL.
    writer = Writer(path, WriterConfig(checkpoint_interval_s=0.3, rollup_interval_s=0.2))
    writer.execute_admin(lambda con: upsert_store(con, "s1", "One", "North", "UTC"))
    writer.execute_admin(lambda con: upsert_camera(con, "c1", "s1", "door", "entrance"))
    i = 0
    while True:
        writer.append("events", batch(i), f"crash-{i}")
        writer.flush()
        print(f"committed {i}", flush=True)
        i += 1


if __name__ == "__main__":
    main(sys.argv[1])
