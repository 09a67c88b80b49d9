"""Live queries: what the cameras see now (people per minute, latest counts per camera)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
from storelens.data.reader import Reader


def people_per_minute(reader: Reader, camera_id: str, since: datetime) -> pl.DataFrame:
    """Per UTC minute since ``since``: distinct person track ids seen (``people``) and boxes."""
    return reader.query("people_per_minute", {"camera_id": camera_id, "since": since})


def latest_counts(
    reader: Reader, camera_ids: list[str] | None = None, window_s: int = 60
) -> pl.DataFrame:
    """Per camera: last detection time, people in the last frame and in the last window."""
    return reader.query("latest_counts", {"camera_ids": camera_ids, "window_s": window_s})
