"""Child process of test_data_readapi.py: a writer that serves the read API and keeps writing.

Prints ``ready URL`` once serving; appends one events batch every 20 ms until killed.
An optional second argument is the port (default 0: a free one), so a test can restart the
API on the same port with a new secret. Not a test module (no test_ prefix).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.readapi import serve
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.sink import AlertRow, to_arrow
from storelens.data.writer import Writer

ALERTS = BATCH_SCHEMAS["alerts"]


def main(path: str, port: int = 0) -> None:
    writer = Writer(path)
    writer.execute_admin(lambda con: upsert_store(con, "s1", "One", "North", "UTC"))
    writer.execute_admin(lambda con: upsert_camera(con, "c1", "s1", "door", "entrance"))
    now = datetime.now(UTC).timestamp()
    alert = to_arrow([AlertRow(now, "c1", "queue_wait", "queue wait over 4 min")], ALERTS)
    writer.append("alerts", alert, "alert-1")
    writer.flush()
    server = serve(writer, port=port, publish=True)
    print(f"ready {server.url}", flush=True)
    i = 0
    while True:
        ts = datetime.now(UTC) - timedelta(minutes=1)
        rows = pa.table(
            {
                "ts": [ts] * 50,
                "camera_id": ["c1"] * 50,
                "track_id": list(range(i * 50, i * 50 + 50)),
                "kind": ["enter"] * 50,
                "zone": [None] * 50,
                "value": [None] * 50,
            },
            schema=BATCH_SCHEMAS["events"],
        )
        writer.append("events", rows, f"live-{i}")
        i += 1
        time.sleep(0.02)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
