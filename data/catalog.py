"""Stores and cameras: the catalog the orchestrator upserts before the pipeline starts.

These functions take a writable connection. In a process that runs a :class:`Writer`,
call them through it so they run on the one writer thread::

    writer.execute_admin(lambda con: upsert_store(con, "demo", "Demo Store", ...))
"""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
from storelens.data.errors import InvalidParams

CAMERA_ROLES = ("entrance", "floor", "checkout")


def upsert_store(
    con: duckdb.DuckDBPyConnection,
    store_id: str,
    name: str,
    region: str,
    timezone: str,
    open_hour: int = 8,
    close_hour: int = 20,
    area_m2: float = 500.0,
) -> None:
    """Insert or update one store. ``timezone`` is an IANA name; hours are local wall-clock."""
    if not store_id:
        raise InvalidParams("store_id must not be empty")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidParams(
            f"store {store_id}: unknown time zone {timezone!r} (use an IANA name such as "
            "'Europe/Berlin')"
        ) from exc
    if not (0 <= open_hour < close_hour <= 24):
        raise InvalidParams(
            f"store {store_id}: need 0 <= open_hour < close_hour <= 24, got {open_hour}..{close_hour}"
        )
    if area_m2 <= 0:
        raise InvalidParams(f"store {store_id}: area_m2 must be > 0, got {area_m2}")
    con.execute(
        """
        INSERT INTO stores VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (store_id) DO UPDATE SET name = excluded.name, region = excluded.region,
            timezone = excluded.timezone, open_hour = excluded.open_hour,
            close_hour = excluded.close_hour, area_m2 = excluded.area_m2
        """,
        [store_id, name, region, timezone, open_hour, close_hour, float(area_m2)],
    )


def upsert_camera(
    con: duckdb.DuckDBPyConnection,
    camera_id: str,
    store_id: str,
    name: str = "",
    role: str = "entrance",
    source_masked: str | None = None,
    lines: dict[str, Any] | list[Any] | None = None,
    zones: dict[str, Any] | list[Any] | None = None,
) -> None:
    """Insert or update one camera. ``source_masked`` must already have credentials removed."""
    if role not in CAMERA_ROLES:
        raise InvalidParams(f"camera {camera_id}: role must be one of {CAMERA_ROLES}, got {role!r}")
    known = con.execute("SELECT 1 FROM stores WHERE store_id = ?", [store_id]).fetchall()
    if not known:
        raise InvalidParams(
            f"camera {camera_id}: store {store_id!r} does not exist; upsert_store it first"
        )
    con.execute(
        """
        INSERT INTO cameras VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (camera_id) DO UPDATE SET store_id = excluded.store_id,
            name = excluded.name, role = excluded.role, source_masked = excluded.source_masked,
            lines = excluded.lines, zones = excluded.zones
        """,
        [
            camera_id,
            store_id,
            name or camera_id,
            role,
            source_masked,
            json.dumps(lines or {}),
            json.dumps(zones or {}),
        ],
    )
