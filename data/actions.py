"""Small writes the dashboard asks for: acknowledging alerts, logging live-view access.

The functions here take a writable connection and are run through the writer
(``Writer.execute_admin``) or, when no writer process runs, on a short-lived writable open.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
from storelens.data.errors import InvalidParams
from storelens.data.schemas import BATCH_SCHEMAS


def ack_alert(con: duckdb.DuckDBPyConnection, alert_id: int, user: str) -> bool:
    """Mark an alert acknowledged by ``user``; False if it does not exist or was already.
    The seconds from raised to acknowledged are stored with it (``response_s``: Compare's
    median response time, issue 19 item 7)."""
    if not user:
        raise InvalidParams("acknowledging an alert needs the user's name")
    rows = con.execute(
        """UPDATE alerts SET acknowledged_by = ?, acknowledged_ts = now(),
                             response_s = greatest(0, epoch(now()) - epoch(ts))
           WHERE alert_id = ? AND acknowledged_ts IS NULL""",
        [user, int(alert_id)],
    ).fetchall()
    return bool(rows and rows[0][0])


def live_view_batch(user_name: str, role: str, camera_id: str) -> tuple[pa.Table, str]:
    """One ``live_view_log`` row and a fresh batch id for it."""
    if not (user_name and role and camera_id):
        raise InvalidParams("a live-view log entry needs user_name, role and camera_id")
    table = pa.table(
        {
            "ts": [datetime.now(UTC)],
            "user_name": [user_name],
            "role": [role],
            "camera_id": [camera_id],
        },
        schema=BATCH_SCHEMAS["live_view_log"],
    )
    return table, f"live_view:{uuid.uuid4()}"


def recent_alerts(
    con: duckdb.DuckDBPyConnection, camera_ids: list[str], since: datetime
) -> dict[str, list[tuple[float, str, str]]]:
    """Alerts of ``camera_ids`` since ``since``, per camera as (epoch ts, kind, detail),
    oldest first: what the pipeline's alert rules resume from after a restart."""
    rows = con.execute(
        """SELECT camera_id, epoch(ts), kind, detail FROM alerts
           WHERE list_contains(?, camera_id) AND ts >= ? ORDER BY ts""",
        [camera_ids, since],
    ).fetchall()
    out: dict[str, list[tuple[float, str, str]]] = {cid: [] for cid in camera_ids}
    for camera_id, ts, kind, detail in rows:
        out[camera_id].append((float(ts), str(kind), str(detail or "")))
    return out
