"""The one interface the detectors room may import from data/.

``BATCH_SCHEMAS`` is the contract: one Arrow schema per table a batch may target.

The pipeline hands row batches (Arrow tables, one per table per camera per
~second) to a sink; the sink owns where they go. ``batch_id`` makes a replayed
batch a no-op, so a pipeline that restarts and resends cannot count twice.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa
from storelens.data.schemas import BATCH_SCHEMAS

__all__ = ["BATCH_SCHEMAS", "RowSink"]


class RowSink(Protocol):
    def append(self, table: str, rows: pa.Table, batch_id: str) -> None:
        """Queue ``rows`` for ``table``; idempotent per ``batch_id``. Never blocks on disk."""

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued so far is committed."""

    def close(self) -> None:
        """Flush and release the database."""
