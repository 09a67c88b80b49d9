"""Arrow schemas of the row batches the writer accepts (the pipeline's contract).

``ts`` columns are ``timestamp[us, tz=UTC]``. A batch must carry exactly these column
names; types are cast where Arrow can do it losslessly-enough (e.g. int32 -> int64,
string -> large_string), and anything else is rejected with :class:`SchemaMismatch`.
"""

from __future__ import annotations

import pyarrow as pa
from storelens.data.errors import SchemaMismatch

TS = pa.timestamp("us", tz="UTC")

BATCH_SCHEMAS: dict[str, pa.Schema] = {
    "detections": pa.schema(
        [
            ("ts", TS),
            ("camera_id", pa.string()),
            ("track_id", pa.int64()),
            ("class", pa.string()),
            ("x1", pa.float32()),
            ("y1", pa.float32()),
            ("x2", pa.float32()),
            ("y2", pa.float32()),
            ("conf", pa.float32()),
        ]
    ),
    "events": pa.schema(
        [
            ("ts", TS),
            ("camera_id", pa.string()),
            ("track_id", pa.int64()),
            ("kind", pa.string()),
            ("zone", pa.string()),
            ("value", pa.float64()),
        ]
    ),
    "expressions": pa.schema(
        [
            ("ts", TS),
            ("camera_id", pa.string()),
            ("track_id", pa.int64()),
            ("label", pa.string()),
            ("valence", pa.string()),
            ("confidence", pa.float32()),
            ("scores", pa.string()),
            ("model", pa.string()),
            ("zone", pa.string()),
        ]
    ),
    "queue_samples": pa.schema(
        [("ts", TS), ("camera_id", pa.string()), ("zone", pa.string()), ("length", pa.int32())]
    ),
    "tracks": pa.schema(
        [
            ("camera_id", pa.string()),
            ("track_id", pa.int64()),
            ("first_ts", TS),
            ("last_ts", TS),
            ("zones", pa.string()),
            ("valence", pa.string()),
            ("faces_read", pa.int32()),
            # Mean calibrated probabilities of the track's readings (null: the reader
            # gave none, the track counts as a hard vote for its valence).
            ("p_satisfied", pa.float32()),
            ("p_neutral", pa.float32()),
            ("p_frustrated", pa.float32()),
        ]
    ),
    # Written by the importers and the demo generator through the same writer.
    "transactions": pa.schema(
        [
            ("transaction_id", pa.string()),
            ("ts", TS),
            ("store_id", pa.string()),
            ("register", pa.string()),
            ("amount", pa.float64()),
        ]
    ),
    "shifts": pa.schema(
        [
            ("shift_id", pa.string()),
            ("store_id", pa.string()),
            ("staff_role", pa.string()),
            ("start_ts", TS),
            ("end_ts", TS),
            ("hourly_cost", pa.float64()),
        ]
    ),
    # detectors/alerts.py and data/demo.py write these as typed rows (data.sink.AlertRow).
    "alerts": pa.schema(
        [
            ("ts", TS),
            ("camera_id", pa.string()),
            ("kind", pa.string()),
            ("detail", pa.string()),
            ("zone", pa.string()),
            ("zone_kind", pa.string()),
            ("acknowledged_by", pa.string()),
            ("acknowledged_ts", TS),
        ]
    ),
    "live_view_log": pa.schema(
        [("ts", TS), ("user_name", pa.string()), ("role", pa.string()), ("camera_id", pa.string())]
    ),
}

EVENT_KINDS = frozenset(
    {"enter", "exit", "zone_enter", "zone_exit", "queue_join", "queue_leave", "expression", "alert"}
)
VALENCES = frozenset({"satisfied", "neutral", "frustrated", "unknown"})


def conform(table: str, rows: pa.Table) -> pa.Table:
    """Return ``rows`` cast to the batch schema of ``table``, or raise SchemaMismatch."""
    schema = BATCH_SCHEMAS.get(table)
    if schema is None:
        raise SchemaMismatch(f"unknown table {table!r}; the writer accepts {sorted(BATCH_SCHEMAS)}")
    if not isinstance(rows, pa.Table):
        # polars / pandas frames convert themselves; anything else is a caller bug.
        to_arrow = getattr(rows, "to_arrow", None)
        if to_arrow is None:
            raise SchemaMismatch(f"{table}: expected a pyarrow.Table, got {type(rows).__name__}")
        rows = to_arrow()
    got = list(rows.column_names)
    want = schema.names
    if got != want:
        missing = [c for c in want if c not in got]
        extra = [c for c in got if c not in want]
        raise SchemaMismatch(
            f"{table}: columns must be exactly {want} in this order; "
            f"missing {missing}, unexpected {extra}, got {got}"
        )
    if rows.schema.equals(schema):
        return rows
    for field, want_field in zip(rows.schema, schema, strict=True):
        if pa.types.is_timestamp(want_field.type) and not (
            pa.types.is_timestamp(field.type) and field.type.tz is not None
        ):
            raise SchemaMismatch(
                f"{table}.{field.name}: must be a time-zone-aware timestamp (UTC), got {field.type}"
            )
    try:
        return rows.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SchemaMismatch(f"{table}: cannot cast batch to {schema}: {exc}") from exc
