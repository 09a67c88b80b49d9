"""Rows leave the pipeline one way: typed row objects → :func:`to_arrow` → the sink.

A row class is a frozen dataclass whose field names are its table's column names in
:data:`~storelens.data.sink.BATCH_SCHEMAS` (a column named like a Python keyword takes a
trailing underscore: ``class`` is the field ``class_``) and whose ``TABLE`` names that
table. Timestamps are UTC epoch seconds, the clock every stage uses; only
:func:`to_arrow` turns them into the schema's ``timestamp[us, UTC]``. So a row is built
by name where it is made, never zipped to columns by position.

This module holds the rows only the pipeline makes (detections, expressions, tracks);
events and queue samples are in ``detectors.events``, alerts in ``detectors.alerts``,
next to the state machines that make them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import pyarrow as pa

# to_arrow is the sink's contract (data/sink.py); re-exported here for the pipeline's rows.
from storelens.data.sink import BATCH_SCHEMAS, Row, to_arrow

__all__ = [
    "PIPELINE_TABLES",
    "DetectionRow",
    "ExpressionRow",
    "Row",
    "RowBuffer",
    "TrackRow",
    "to_arrow",
]

# The tables a camera's rows go to, in the order one drain hands them to the sink (the
# order the pipeline has always sent them in, so batch ids keep their sequence).
PIPELINE_TABLES = ("detections", "events", "expressions", "alerts", "queue_samples", "tracks")


@dataclass(frozen=True, slots=True)
class DetectionRow:
    """A person box, or a face box inside one (``class_ = "face"``, ``conf = 1``)."""

    TABLE: ClassVar[str] = "detections"
    ts: float
    camera_id: str
    track_id: int
    class_: str
    x1: float
    y1: float
    x2: float
    y2: float
    conf: float


@dataclass(frozen=True, slots=True)
class ExpressionRow:
    """One expression reading of one track (the smoothed reading; ``scores`` is JSON)."""

    TABLE: ClassVar[str] = "expressions"
    ts: float
    camera_id: str
    track_id: int
    label: str
    valence: str
    confidence: float
    scores: str
    model: str
    zone: str | None = None


@dataclass(frozen=True, slots=True)
class TrackRow:
    """One finished track: its span, the zones it visited (a JSON list) and its valence."""

    TABLE: ClassVar[str] = "tracks"
    camera_id: str
    track_id: int
    first_ts: float
    last_ts: float
    zones: str
    valence: str | None
    faces_read: int
    p_satisfied: float | None
    p_neutral: float | None
    p_frustrated: float | None


class RowBuffer:
    """One camera's rows waiting for the sink, per table.

    Thread-safe by its own lock: an analysis thread adds a frame's rows while the flush
    thread adds camera-status alerts and drains, and neither may wait on the other's
    camera lock (a hung frame holds it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list[Row]] = {table: [] for table in PIPELINE_TABLES}

    def add(self, rows: Iterable[Row]) -> None:
        with self._lock:
            for row in rows:
                self._rows[row.TABLE].append(row)

    def drain(self) -> dict[str, pa.Table]:
        """Everything added since the last drain, one table each (empty ones omitted)."""
        with self._lock:
            pending, self._rows = self._rows, {table: [] for table in PIPELINE_TABLES}
        return {
            table: to_arrow(rows, BATCH_SCHEMAS[table]) for table, rows in pending.items() if rows
        }
