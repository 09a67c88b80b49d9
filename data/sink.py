"""The one interface the detectors room may import from data/.

``BATCH_SCHEMAS`` is the contract: one Arrow schema per table a batch may target.

The pipeline hands row batches (Arrow tables, one per table per camera per
~second) to a sink; the sink owns where they go. ``batch_id`` makes a replayed
batch a no-op, so a pipeline that restarts and resends cannot count twice.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

import pyarrow as pa
from storelens.data.schemas import BATCH_SCHEMAS

__all__ = ["BATCH_SCHEMAS", "AlertRow", "RowSink", "to_arrow"]

_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class Row(Protocol):
    """Any row class: its fields are read by column name, ``TABLE`` says where it goes."""

    TABLE: ClassVar[str]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One row of the ``alerts`` table, the one way an alert is written (issue 20 item 5):
    the pipeline's rules (detectors/alerts.py) and the demo history (data/demo.py) both
    make these. ``ts`` is UTC epoch seconds. ``zone`` / ``zone_kind`` name the zone the
    alert is about (None for a camera alert); the title staff read is built from them.
    Only history carries an acknowledgement; the pipeline's alerts start unacknowledged."""

    TABLE: ClassVar[str] = "alerts"
    ts: float
    camera_id: str
    kind: str
    detail: str
    zone: str | None = None
    zone_kind: str | None = None
    acknowledged_by: str | None = None
    acknowledged_ts: float | None = None


def _field_name(column: str) -> str:
    return f"{column}_" if keyword.iskeyword(column) else column


def to_arrow(rows: Sequence[Row], schema: pa.Schema) -> pa.Table:
    """``rows`` as a table with exactly ``schema`` (no rows: an empty table with it).

    Columns are read from the rows by name (a column named like a Python keyword from the
    field with a trailing underscore: ``class`` is ``class_``); a timestamp column's values
    are epoch seconds, rounded to the schema's unit as the pipeline always has
    (``round(ts * 1e6)``). Part of the sink's contract, so the data room's own writers
    (the demo history) build batches from typed rows the same way the pipeline does.
    """
    columns = []
    for column in schema:
        name = _field_name(column.name)
        values = [getattr(row, name) for row in rows]
        if pa.types.is_timestamp(column.type):
            scale = _PER_SECOND[column.type.unit]
            ticks = [None if v is None else round(v * scale) for v in values]
            columns.append(pa.array(ticks, pa.int64()).cast(column.type))
        else:
            columns.append(pa.array(values, column.type))
    return pa.Table.from_arrays(columns, schema=schema)


class RowSink(Protocol):
    def append(self, table: str, rows: pa.Table, batch_id: str) -> None:
        """Queue ``rows`` for ``table``; idempotent per ``batch_id``. Never blocks on disk."""

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed."""

    def close(self) -> None:
        """Flush and release the database."""
