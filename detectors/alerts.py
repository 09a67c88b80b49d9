"""Alert rules for store managers: pure state machines over what the pipeline sees.

- ``frustrated``: a track standing in a queue or checkout zone whose *smoothed*
  expression has been frustrated for at least ``frustrated_s``;
- ``queue_wait``: a track has waited in a queue/checkout zone longer than
  ``queue_wait_s``;
- ``camera_offline``: a camera has been offline for ``offline_s`` (one per outage).

One alert per (camera, zone, kind) while its situation lasts: a busy queue where shopper
after shopper crosses 4 minutes is one problem for staff, not a new alert every few
minutes. A queue-wait situation lasts while anyone is queued in that zone, a frustration
situation while anyone there reads frustrated; once the zone has been quiet for
``REARM_MIN_S`` it may alert again.

Each alert is a typed row for the ``alerts`` table (:class:`~storelens.data.sink.AlertRow`:
ts, camera_id, kind, detail, and the zone's name and kind, from which staff's title is
built: "Frustrated shopper at Service desk"). No pixels and no identity: the detail names
the camera, the zone and the duration.

Restarts (issue 18, item 4): the open situations used to live only in memory, so every
pipeline restart alerted again for a situation staff had already been told about. At
start the pipeline hands each camera's rules its alerts of the last
:data:`RESTART_MEMORY_S` (:meth:`AlertRules.resume`): those situations count as open as of
the restart, so they alert again only after their zone has been quiet for
:data:`REARM_MIN_S`, exactly as without a restart; a camera alerted offline stays alerted
until it is seen online.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from storelens.data.sink import AlertRow
from storelens.detectors.events import EngineState
from storelens.detectors.types import CameraState, CameraStatus, Detections, Valence
from storelens.kernel.config import AlertsConfig
from storelens.kernel.redact import source_problem

REARM_MIN_S = 60.0  # a zone quiet for at least this long may raise a fresh alert
# Alerts this recent are taken as situations still open when the pipeline (re)starts.
RESTART_MEMORY_S = 3600.0
ZONE_KINDS = ("queue_wait", "frustrated")
__all__ = ["REARM_MIN_S", "RESTART_MEMORY_S", "AlertRow", "AlertRules"]


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d} min"


@dataclass
class AlertRules:
    camera_id: str
    camera_name: str
    config: AlertsConfig = field(default_factory=AlertsConfig)
    # zone name -> its kind (queue, checkout, floor...): the title and the action staff
    # read depend on it (a service desk is not a checkout).
    zone_kinds: dict[str, str] = field(default_factory=dict)
    _frustrated_since: dict[int, float] = field(default_factory=dict)
    _alerted_frustrated: set[int] = field(default_factory=set)
    _alerted_wait: set[int] = field(default_factory=set)
    _offline_alerted: bool = False
    _offline_resumed: bool = False  # alerted offline before a restart: until seen online
    # (kind, zone) -> last time the condition held there: an open situation, no new alert.
    _open: dict[tuple[str, str], float] = field(default_factory=dict)

    def _situation(self, kind: str, zone: str, ts: float) -> bool:
        """Note that ``kind`` holds in ``zone`` now; True if this starts a new situation."""
        is_new = (kind, zone) not in self._open
        self._open[(kind, zone)] = ts
        return is_new

    def _keep_open(self, kind: str, zones: set[str], ts: float) -> None:
        """The situation goes on in these zones (e.g. the queue is still not empty)."""
        for zone in zones:
            if (kind, zone) in self._open:
                self._open[(kind, zone)] = ts

    def _close_quiet(self, ts: float) -> None:
        for key, last in list(self._open.items()):
            if ts - last >= REARM_MIN_S:
                del self._open[key]

    def _zone_detail(self, zone: str, what: str) -> str:
        return f"{self.camera_name} · {zone}: {what}"

    def resume(self, alerts: list[tuple[float, str, str]], now: float) -> None:
        """Carry on from an earlier run of this camera: ``alerts`` are its (ts, kind,
        detail) rows from the database. Each zone situation alerted within
        :data:`RESTART_MEMORY_S` counts as open at ``now``; a camera alerted offline (and
        not seen online since this start) is not alerted again for the same outage."""
        prefix = f"{self.camera_name} · "
        for ts, kind, detail in alerts:
            if now - ts > RESTART_MEMORY_S:
                continue
            if kind in ZONE_KINDS and detail.startswith(prefix):
                # "<camera> · <zone>: <what>"; <what> never holds ": ", a zone name may.
                zone = detail[len(prefix) :].rpartition(": ")[0]
                if zone:
                    self._open[(kind, zone)] = now
            elif kind == "camera_offline":
                self._offline_alerted = True
                self._offline_resumed = True

    def _zone_alert(
        self, ts: float, kind: str, zone: str, tid: int, alerted: set[int], what: str
    ) -> list[AlertRow]:
        """The alert ``what`` for track ``tid`` in ``zone``, unless the situation there is
        already open or this track was alerted for it already."""
        # _situation first: it must note the situation even when no alert is raised.
        if not self._situation(kind, zone, ts) or tid in alerted:
            return []
        alerted.add(tid)
        detail = self._zone_detail(zone, what)
        return [AlertRow(ts, self.camera_id, kind, detail, zone, self.zone_kinds.get(zone))]

    def update(self, ts: float, detections: Detections, state: EngineState) -> list[AlertRow]:
        """Rules over one analysed frame (call after the event engine's update)."""
        out: list[AlertRow] = []
        queued = {
            tid: (zone, wait)
            for zone, waits in state.queue_waits.items()
            for tid, wait in waits.items()
        }
        self._close_quiet(ts)
        busy = {zone for zone, waits in state.queue_waits.items() if waits}
        self._keep_open("queue_wait", busy, ts)
        for tid, (zone, wait) in queued.items():
            if wait < self.config.queue_wait_s:
                continue
            what = f"a shopper has waited {_minutes(wait)}"
            out += self._zone_alert(ts, "queue_wait", zone, tid, self._alerted_wait, what)
        valence = detections.data.get("valence")
        frustrated_now: set[int] = set()
        if valence is not None and len(detections):
            mask = (valence == str(Valence.FRUSTRATED)) & np.isin(
                detections.tracker_id, list(queued)
            )
            frustrated_now = {int(t) for t in detections.tracker_id[mask]}
        self._keep_open("frustrated", {queued[tid][0] for tid in frustrated_now}, ts)
        for tid in frustrated_now:
            since = self._frustrated_since.setdefault(tid, ts)
            if ts - since < self.config.frustrated_s:
                continue
            zone = queued[tid][0]
            what = f"frustrated shopper for {ts - since:.0f} s"
            out += self._zone_alert(ts, "frustrated", zone, tid, self._alerted_frustrated, what)
        for tid in list(self._frustrated_since):
            if tid not in frustrated_now:
                del self._frustrated_since[tid]
        active = set(queued) | frustrated_now
        self._alerted_wait &= active | set(detections.tracker_id.tolist())
        self._alerted_frustrated &= active | set(detections.tracker_id.tolist())
        return out

    def camera_status(self, ts: float, status: CameraStatus) -> list[AlertRow]:
        """One alert per outage once the camera has been offline for ``offline_s``."""
        if status.state is CameraState.ONLINE:
            self._offline_resumed = False
        if status.state is not CameraState.OFFLINE:
            # A restarted pipeline sees the camera "reconnecting" first: that is no new
            # outage of a camera already alerted offline before the restart.
            self._offline_alerted = self._offline_resumed
            return []
        down_for = ts - status.since
        if self._offline_alerted or down_for < self.config.offline_s:
            return []
        self._offline_alerted = True
        detail = f"{self.camera_name}: camera offline for {_minutes(down_for)}"
        # A category, never the error itself: it names the source (a path, an internal
        # URL) and the library's words, which are for the logs, not for managers.
        problem = source_problem(status.last_error)
        if problem:
            detail += f" ({problem})"
        return [AlertRow(ts, self.camera_id, "camera_offline", detail)]
