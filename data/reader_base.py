"""What every reader answers (the :class:`Reader` protocol) and how query parameters
travel between processes (:func:`encode_params`: dates as ISO text, JSON only)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Protocol, runtime_checkable

import polars as pl


@runtime_checkable
class Reader(Protocol):
    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a registered query by name and return its rows."""

    def ack_alert(self, alert_id: int, user: str) -> bool:
        """Acknowledge an alert (through the one writer)."""

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        """Record that ``user_name`` opened the live view of ``camera_id``."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as a query parameter")


def encode_params(params: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(params or {}, default=_json_default))
