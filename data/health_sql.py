"""The named query ``camera_health`` (SQL of :mod:`storelens.data.health`).

Registered in :mod:`storelens.data.query_registry`; :mod:`storelens.data.queries` imports
this module, so the query is known wherever named queries run (a local reader, the
pipeline's read API). Kept apart from the polars side because that side imports the KPI
module, which imports the reader, which imports the queries: an import cycle.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
from storelens.data.query_registry import StoreRange, register

SLOT_S = 300  # a camera is "up" in a 5-minute slot where it wrote any row


@register(
    "camera_health",
    StoreRange,
    "per camera and store-local hour: 5-minute slots with any row, frames with boxes, span",
)
def _camera_health(con: duckdb.DuckDBPyConnection, p: StoreRange) -> pl.DataFrame:
    # Local days -> a UTC window wide enough for any time zone, cut to local hours after.
    lo = datetime.combine(p.start - timedelta(days=1), datetime.min.time(), UTC)
    hi = datetime.combine(p.end + timedelta(days=2), datetime.min.time(), UTC)
    return con.sql(
        f"""
        WITH cams AS (
            SELECT c.camera_id, c.store_id, s.timezone
            FROM cameras c JOIN stores s ON s.store_id = c.store_id
            WHERE list_contains($stores, c.store_id)
        ),
        raw AS (
            SELECT d.camera_id, d.ts, true AS frame FROM detections d
            WHERE d.camera_id IN (SELECT camera_id FROM cams) AND d.ts >= $lo AND d.ts < $hi
            UNION ALL
            SELECT e.camera_id, e.ts, false FROM events e
            WHERE e.camera_id IN (SELECT camera_id FROM cams) AND e.ts >= $lo AND e.ts < $hi
            UNION ALL
            SELECT q.camera_id, q.ts, false FROM queue_samples q
            WHERE q.camera_id IN (SELECT camera_id FROM cams) AND q.ts >= $lo AND q.ts < $hi
        ),
        per AS (
            SELECT camera_id, utc_hour(ts) AS hour,
                   count(DISTINCT epoch_us(ts) // {SLOT_S * 1_000_000})::BIGINT AS slots,
                   (count(DISTINCT ts) FILTER (WHERE frame))::BIGINT AS frames,
                   epoch(max(ts) FILTER (WHERE frame) - min(ts) FILTER (WHERE frame))::DOUBLE
                       AS active_s
            FROM raw GROUP BY ALL
        )
        SELECT c.store_id, p.camera_id, timezone(c.timezone, p.hour) AS bucket,
               p.slots, p.frames, p.active_s
        FROM per p JOIN cams c ON c.camera_id = p.camera_id
        WHERE timezone(c.timezone, p.hour) >= $llo AND timezone(c.timezone, p.hour) < $lhi
        ORDER BY 1, 2, 3
        """,
        params={
            "stores": p.stores,
            "lo": lo,
            "hi": hi,
            "llo": datetime.combine(p.start, datetime.min.time()),
            "lhi": datetime.combine(p.end + timedelta(days=1), datetime.min.time()),
        },
    ).pl()
