"""Alerts as staff read them: a title, what happened, what to do, and the time on the
store's own clock (no Streamlit here: the Live page renders what this returns).

Kinds come from the pipeline's rules (detectors/alerts.py) and, for history, from alert
events (``alert``, e.g. the demo's long waits: "alert in zone checkout after 312 s").

Issue 18, item 11: no alert text shows where a camera's stream comes from or the error a
library gave. The pipeline writes a category for offline cameras (kernel/redact.py,
:func:`source_problem`); rows written before that carry the raw error, so an offline
detail is rebuilt from its category here, and any other detail has URLs and paths hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from storelens.kernel.redact import hide_locations, source_problem

_QUEUE_ACTION = "Open another till or send a colleague to help at the checkout."
KINDS: dict[str, tuple[str, str]] = {
    "queue_wait": ("Long queue wait", _QUEUE_ACTION),
    "frustrated": (
        "Frustrated shopper at the checkout",
        "Go to the checkout and offer help; open another till if the queue is long.",
    ),
    "camera_offline": (
        "Camera offline",
        "Check the camera's power and network cable; its Live tile shows since when.",
    ),
}
_EVENT_ALERT = re.compile(r"alert in zone (?P<zone>.+?)(?: after (?P<seconds>\d+) s)?$")
# detectors/alerts.py: "<camera>: camera offline for 1:05 min" [" (<category or old error>)"]
_OFFLINE = re.compile(
    r"(?P<head>.+?: camera offline for \d+:\d{2} min)(?: \((?P<why>.*)\))?$", re.S
)


@dataclass(frozen=True)
class AlertText:
    title: str
    detail: str
    action: str


def _minutes(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d} min"


def describe(kind: str, detail: str | None) -> AlertText:
    """Title, detail and action for one alert row (never just "alert")."""
    detail = _safe_detail(kind, detail or "")
    if kind in KINDS:
        title, action = KINDS[kind]
        return AlertText(title, detail, action)
    found = _EVENT_ALERT.match(detail)
    if kind == "alert" and found:
        zone = found["zone"]
        seconds = found["seconds"]
        what = f"A shopper waited {_minutes(int(seconds))} in {zone}." if seconds else ""
        return AlertText(f"Long wait at {zone}", what or detail, _QUEUE_ACTION)
    return AlertText(
        kind.replace("_", " ").capitalize() or "Alert",
        detail,
        "Look at the camera's Live tile and check on the spot.",
    )


def _safe_detail(kind: str, detail: str) -> str:
    if kind == "camera_offline":
        found = _OFFLINE.match(detail)
        if found:
            why = source_problem(found["why"])
            return f"{hide_locations(found['head'])} ({why})" if why else hide_locations(detail)
    return hide_locations(detail)


def local_time(ts: datetime, timezone: str | None, fmt: str = "%H:%M") -> str:
    """``ts`` on the store's wall clock with its zone, e.g. ``14:05 CET``; UTC if the zone
    is unknown (and then it says UTC, never a bare time)."""
    if ts.tzinfo is None:  # the data layer returns UTC instants
        ts = ts.replace(tzinfo=UTC)
    try:
        zone = ZoneInfo(timezone) if timezone else UTC
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = ts.astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"
