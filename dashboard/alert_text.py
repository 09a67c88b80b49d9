"""Alerts as staff read them: a title, what happened, what to do, and the time on the
store's own clock (no Streamlit here: the Live page renders what this returns, and the push
channels send the same words, data/alert_delivery.py).

Kinds come from the pipeline's rules (detectors/alerts.py) and the demo history, both typed
rows (issue 20 item 5). The title names the zone the alert is about and the action follows
the zone's kind (issue 19 item 7): "Frustrated shopper at Service desk" with "go and offer
help", never "at the checkout" for a service-desk camera; a queue or checkout zone adds the
till. Alerts stored without a zone (older rows) get the title without a place.

Issue 18, item 11: no alert text shows where a camera's stream comes from or the error a
library gave. The pipeline writes a category for offline cameras (kernel/redact.py,
:func:`source_problem`); rows written before that carry the raw error, so an offline
detail is rebuilt from its category here, and any other detail has URLs and paths hidden.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from storelens.data.storetime import format_time
from storelens.kernel.redact import hide_locations, source_problem

# Zone kinds (kernel.config.ZoneKind) where a till can be opened.
TILL_ZONES = frozenset({"queue", "checkout"})
# kind -> (title without a place, action with a place, action without one)
KINDS: dict[str, tuple[str, str, str]] = {
    "queue_wait": (
        "Long queue wait",
        "Send a colleague to {zone}: shoppers are waiting.",
        "Open another till or send a colleague to help where the queue is.",
    ),
    "frustrated": (
        "Frustrated shopper",
        "Go to {zone} and offer help.",
        "Go to the shopper and offer help.",
    ),
    "camera_offline": (
        "Camera offline",
        "Check the camera's power and network cable; its Live tile shows since when.",
        "Check the camera's power and network cable; its Live tile shows since when.",
    ),
}
_TILL_ACTION = {
    "queue_wait": "Open another till or send a colleague to help at {zone}.",
    "frustrated": "Go to {zone} and offer help; open another till if the queue is long.",
}
# detectors/alerts.py: "<camera>: camera offline for 1:05 min" [" (<category or old error>)"]
_OFFLINE = re.compile(
    r"(?P<head>.+?: camera offline for \d+:\d{2} min)(?: \((?P<why>.*)\))?$", re.S
)


@dataclass(frozen=True)
class AlertText:
    title: str
    detail: str
    action: str


def place(zone: str | None) -> str | None:
    """A zone's name as a place in a sentence ("service desk" -> "Service desk")."""
    zone = (zone or "").strip()
    return zone[:1].upper() + zone[1:] if zone else None


def describe(
    kind: str, detail: str | None, zone: str | None = None, zone_kind: str | None = None
) -> AlertText:
    """Title, detail and action for one alert row (never just "alert"): the title names
    ``zone`` and the action follows ``zone_kind`` (a till only where there is one)."""
    detail = _safe_detail(kind, detail or "")
    where = place(zone) if kind != "camera_offline" else None
    if kind in KINDS:
        title, action_at, action = KINDS[kind]
        if where:
            template = _TILL_ACTION.get(kind, action_at) if zone_kind in TILL_ZONES else action_at
            return AlertText(f"{title} at {where}", detail, template.format(zone=where))
        return AlertText(title, detail, action)
    title = kind.replace("_", " ").capitalize() or "Alert"
    return AlertText(
        f"{title} at {where}" if where else title,
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


def local_time(
    ts: datetime, timezone: str | None, fmt: str = "%H:%M", today: date | None = None
) -> str:
    """``ts`` on the store's wall clock with its zone, the pages' rule (storetime.format_time):
    ``14:05 CET`` today, ``Sat 5 Dec 14:05 CET`` on another day (a push of yesterday's alert
    that is delivered after an outage must not read as this morning's); UTC, said, if the
    zone is unknown. ``today`` is the store's today (default: now on its clock)."""
    return format_time(ts, timezone, fmt, today)


def response_words(seconds: float | None) -> str:
    """The time from raised to acknowledged as words, e.g. `` after 4:05 min`` ("" if
    unknown)."""
    if seconds is None or seconds != seconds:  # None or NaN: acknowledged before it was kept
        return ""
    whole = max(0, round(seconds))
    return f" after {whole // 60}:{whole % 60:02d} min"


def push_words(
    kind: str,
    detail: str,
    zone: str | None,
    zone_kind: str | None,
    ts: datetime,
    timezone: str | None,
) -> tuple[str, str, str, str]:
    """(title, detail, action, local time) of one alert for the push channels
    (data/alert_delivery.py): the same words as the Live page, on the store's clock."""
    text = describe(kind, detail, zone, zone_kind)
    return text.title, text.detail, text.action, local_time(ts, timezone)
