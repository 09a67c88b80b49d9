"""Lake status as HQ sees it: every store's manifest, how late its newest hour is and
which opening hours are missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from storelens.data.lake.access import FORMAT, Lake


def read_manifests(lake: Lake) -> list[dict[str, Any]]:
    """Every store's manifest in the lake."""
    keys = [k for k in lake.list_files("_manifests/") if k.endswith("/manifest.json")]
    out = []
    for key in keys:
        manifest = lake.read_json(key)
        if manifest and manifest.get("format") == FORMAT:
            out.append(manifest)
    return sorted(out, key=lambda m: m["store"]["store_id"])


def lake_status(lake: Lake, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per store: newest published hour, how late it is, and the missing opening hours."""
    return status_rows(read_manifests(lake), now)


def status_rows(
    manifests: list[dict[str, Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """:func:`lake_status` from manifests already read."""
    now = now or datetime.now(UTC)
    rows = []
    for m in manifests:
        newest = m.get("newest_hour")
        lag_h = None
        if newest:
            # The newest hour is complete an hour after it starts.
            end = datetime.fromisoformat(newest) + timedelta(hours=1)
            lag_h = max(0.0, round((now - end).total_seconds() / 3600.0, 2))
        rows.append(
            {
                "store_id": m["store"]["store_id"],
                "region": m["store"]["region"],
                "newest_hour": newest,
                "newest_local_hour": m.get("newest_local_hour"),
                "first_local_hour": m.get("first_local_hour"),
                "lag_hours": lag_h,
                "hours_published": m.get("hours_published", 0),
                "missing_hours_total": m.get("missing_hours_total", 0),
                "missing_hours": m.get("missing_hours", []),
                "camera_uptime_24h": (m.get("health") or {}).get("uptime_share_24h"),
                "analysed_fps_24h": (m.get("health") or {}).get("analysed_fps_24h"),
                "published_at": m.get("published_at"),
                "version": m.get("version"),
            }
        )
    return rows
