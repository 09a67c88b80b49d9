"""Tracks -> events: a pure state machine over ``(ts, Detections)``, testable without video.

:class:`EventEngine` is fed one :class:`~detectors.types.Detections` per analysed frame
(timestamps in UTC epoch seconds, non-decreasing) and returns the :class:`EventRow` values
that became final in that frame. It never reads a clock, a file or a model.

Event vocabulary (``kind`` / ``zone`` / ``value``):

============  ==========  =================================================================
kind          zone        meaning
============  ==========  =================================================================
enter         line name   inward crossing of an entrance line (once per track and line)
exit          line name   outward crossing of an entrance line (once per track and line)
exit          NULL        the track ended (unseen for ``track_grace_s``); value = seconds
                          from first to last sighting. Only for tracks lasting ``min_track_s``
zone_enter    zone name   a floor/staff zone visit reached ``min_dwell_s``; ts = entry time
zone_exit     zone name   that visit ended; ts = last time inside, value = dwell seconds
queue_join    zone name   like zone_enter, for queue/checkout zones
queue_leave   zone name   like zone_exit, for queue/checkout zones; value = wait seconds
============  ==========  =================================================================

So "inward crossings" are ``kind = 'enter'``, "outward crossings" are
``kind = 'exit' AND zone IS NOT NULL``.

Rules, and why:

* A person's position is the bottom-centre of the box (the feet), like the zones' doc says.
* Lines use a hysteresis band of ``line_band_px`` either side: a foot point inside the
  band never changes the remembered side, so a track wobbling on the line produces at most
  one crossing per direction instead of one per frame. Each direction counts once per track.
* Crossings only count inside the segment, give or take the band (a track walking round the end of the line
  changes side without crossing) and only for tracks with a tracker id (``NO_TRACK`` rows
  are counted in zone occupancy but never in crossings or visits).
* Footfall noise (a flicker of a detection on the line) is removed by holding a track's
  crossings back until it has lived ``min_track_s`` *and* moved ``min_displacement_px``;
  they are then emitted with the timestamp of the crossing itself. A track that never
  qualifies emits no crossings.
* Zone visits shorter than the zone's ``min_dwell_s`` emit nothing at all (neither enter
  nor exit): the enter row is emitted once the visit reaches ``min_dwell_s``, stamped with
  the entry time. Stepping out for up to ``zone_exit_grace_s`` does not end a visit (a
  foot point jittering on the polygon's edge must not split one stay into many).
  Zone events do not require displacement: a shopper standing still in a queue is a visit.
* A track unseen for more than ``track_grace_s`` is finished: its open visits are closed
  at the last time it was seen inside, then its ``exit`` row is emitted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from storelens.data.sink import BATCH_SCHEMAS
from storelens.detectors.types import NO_TRACK, PERSON_CLASS_ID, Detections, TrackEvent
from storelens.kernel.config import LineConfig, ZoneConfig, ZoneKind

QUEUE_KINDS = frozenset({ZoneKind.QUEUE, ZoneKind.CHECKOUT})

EVENTS_SCHEMA = BATCH_SCHEMAS["events"]

QUEUE_SAMPLES_SCHEMA = BATCH_SCHEMAS["queue_samples"]


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of the ``events`` table. ``ts`` is UTC epoch seconds."""

    TABLE: ClassVar[str] = "events"
    ts: float
    camera_id: str
    track_id: int
    kind: TrackEvent
    zone: str | None = None
    value: float | None = None

    @property
    def is_line_crossing(self) -> bool:
        """An inward (enter) or outward (exit) crossing of the line named in ``zone``."""
        return self.kind in (TrackEvent.ENTER, TrackEvent.EXIT) and self.zone is not None

    @property
    def is_track_end(self) -> bool:
        """The track ended; ``value`` is its duration in seconds."""
        return self.kind is TrackEvent.EXIT and self.zone is None


@dataclass(frozen=True, slots=True)
class QueueSample:
    """One row of the ``queue_samples`` table. ``ts`` is UTC epoch seconds."""

    TABLE: ClassVar[str] = "queue_samples"
    ts: float
    camera_id: str
    zone: str
    length: int


@dataclass(frozen=True, slots=True)
class EngineState:
    """Read-only snapshot of the live numbers, for overlays and status pages.

    ``queue_waits[zone]`` maps each queued track id to its seconds in the queue so far.
    ``zone_occupancy`` counts every person detection whose feet are inside the zone in
    the latest frame, tracked or not.
    """

    ts: float | None = None
    line_in: dict[str, int] = field(default_factory=dict)
    line_out: dict[str, int] = field(default_factory=dict)
    zone_occupancy: dict[str, int] = field(default_factory=dict)
    queue_length: dict[str, int] = field(default_factory=dict)
    queue_waits: dict[str, dict[int, float]] = field(default_factory=dict)
    active_tracks: int = 0


# Zone edges are drawn on pixel rows and columns (0 … h-1) but a box cut by the frame's
# edge ends at h: a foot point this close to an edge counts as inside. It matters most for
# staff zones drawn over the whole frame, where "outside" would mean reading a face.
EDGE_TOLERANCE_PX = 1.0


def points_in_polygon(
    points: np.ndarray, polygon: np.ndarray | list, tolerance: float = EDGE_TOLERANCE_PX
) -> np.ndarray:
    """(N,) bool: which of the (N, 2) ``points`` lie inside ``polygon`` (even-odd rule) or
    within ``tolerance`` pixels of its edges."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    poly = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    x, y = points[:, :1], points[:, 1:2]
    x1, y1 = poly[None, :, 0], poly[None, :, 1]
    nxt = np.roll(poly, -1, axis=0)
    x2, y2 = nxt[None, :, 0], nxt[None, :, 1]
    straddles = (y1 > y) != (y2 > y)
    # Edges with y1 == y2 never straddle; the guard only avoids a division warning.
    dy = np.where(y2 == y1, 1.0, y2 - y1)
    x_cross = x1 + (y - y1) * (x2 - x1) / dy
    inside = np.logical_xor.reduce(straddles & (x < x_cross), axis=1)
    if tolerance <= 0:
        return inside
    # Distance from each point to each edge (segment), for the edge tolerance.
    ex, ey = x2 - x1, y2 - y1
    length2 = np.maximum(ex * ex + ey * ey, 1e-12)
    t = np.clip(((x - x1) * ex + (y - y1) * ey) / length2, 0.0, 1.0)
    near = np.hypot(x - (x1 + t * ex), y - (y1 + t * ey)).min(axis=1) <= tolerance
    return inside | near


def in_zones(
    detections: Detections, zones: list[ZoneConfig], kinds: frozenset[ZoneKind]
) -> np.ndarray:
    """(N,) bool: feet of each detection inside any zone whose kind is in ``kinds``."""
    mask = np.zeros(len(detections), dtype=bool)
    if len(detections) == 0:
        return mask
    feet = detections.bottom_center
    for zone in zones:
        if zone.kind in kinds:
            mask |= points_in_polygon(feet, zone.polygon)
    return mask


class _Line:
    """A line segment with the geometry precomputed; signed distance > 0 = the *in* side."""

    def __init__(self, config: LineConfig) -> None:
        # Plain floats: this runs per person, per line, per frame, where numpy's per-call
        # overhead would cost more than the arithmetic.
        self.name = config.name
        self.x0, self.y0 = float(config.start[0]), float(config.start[1])
        dx, dy = float(config.end[0]) - self.x0, float(config.end[1]) - self.y0
        self.length = math.hypot(dx, dy)
        self.ux, self.uy = dx / self.length, dy / self.length
        # Image y grows downwards, so the screen's "right of start->end" is where the 2-D
        # cross product direction x (p - start) is positive. Right of the line = in.
        self.nx, self.ny = -self.uy, self.ux

    def signed_distance(self, point: tuple[float, float]) -> float:
        return (point[0] - self.x0) * self.nx + (point[1] - self.y0) * self.ny

    def position_along(self, point: tuple[float, float]) -> float:
        """0 at start, 1 at end, outside [0, 1] beyond the ends."""
        return ((point[0] - self.x0) * self.ux + (point[1] - self.y0) * self.uy) / self.length


OCCLUSION_JUMP = 0.35  # relative change of box height treated as an occlusion, not a step


@dataclass(slots=True)
class _Visit:
    enter_ts: float
    last_inside_ts: float
    counted: bool = False  # the enter/join row was emitted (visit reached min_dwell_s)


@dataclass(slots=True)
class _Track:
    track_id: int
    first_ts: float
    last_ts: float
    first_point: tuple[float, float]
    max_displacement: float = 0.0
    qualified: bool = False
    height: float = 0.0  # smoothed box height, to spot occlusions (see update)
    # Per line: last decided side (+1 in side, -1 out side) and the point where it was decided.
    side: dict[str, int] = field(default_factory=dict)
    anchor: dict[str, tuple[float, float]] = field(default_factory=dict)
    crossed: set[tuple[str, TrackEvent]] = field(default_factory=set)
    pending: list[EventRow] = field(default_factory=list)
    visits: dict[str, _Visit] = field(default_factory=dict)


class EventEngine:
    """Turns tracked person detections into event rows for one camera (see module doc).

    Not thread-safe: call ``update``/``finish`` from one thread; other threads read
    :attr:`state`, an immutable snapshot replaced after every update.
    """

    def __init__(
        self,
        camera_id: str,
        lines: list[LineConfig],
        zones: list[ZoneConfig],
        *,
        min_track_s: float = 1.0,
        min_displacement_px: float = 20.0,
        line_band_px: float = 4.0,
        track_grace_s: float = 2.0,
        zone_exit_grace_s: float = 1.0,
    ) -> None:
        for name, value in (
            ("min_track_s", min_track_s),
            ("min_displacement_px", min_displacement_px),
            ("line_band_px", line_band_px),
            ("track_grace_s", track_grace_s),
            ("zone_exit_grace_s", zone_exit_grace_s),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"EventEngine {name}={value!r}: must be a finite number ≥ 0")
        names = [line.name for line in lines]
        if len(set(names)) != len(names):
            raise ValueError(f"camera {camera_id!r}: line names must be unique, got {names}")
        znames = [zone.name for zone in zones]
        if len(set(znames)) != len(znames):
            raise ValueError(f"camera {camera_id!r}: zone names must be unique, got {znames}")
        self.camera_id = camera_id
        self.lines = [_Line(line) for line in lines]
        self.zones = list(zones)
        self._zone_polygons = [np.asarray(z.polygon, dtype=np.float64) for z in zones]
        self.min_track_s = min_track_s
        self.min_displacement_px = min_displacement_px
        self.line_band_px = line_band_px
        self.track_grace_s = track_grace_s
        self.zone_exit_grace_s = zone_exit_grace_s
        self._tracks: dict[int, _Track] = {}
        self._line_in = {line.name: 0 for line in self.lines}
        self._line_out = {line.name: 0 for line in self.lines}
        self._occupancy = {zone.name: 0 for zone in self.zones}
        self._last_ts: float | None = None
        self.out_of_order_updates = 0
        self.state = EngineState()
        self._publish()

    # ------------------------------------------------------------------ public API

    def update(self, ts: float, detections: Detections) -> list[EventRow]:
        """Feed one analysed frame; returns the rows that became final in it.

        A timestamp older than the previous one is ignored (counted in
        ``out_of_order_updates``) instead of corrupting dwell times.
        """
        if not math.isfinite(ts):
            raise ValueError(f"EventEngine.update: ts={ts!r} is not a finite epoch time")
        if self._last_ts is not None and ts < self._last_ts:
            self.out_of_order_updates += 1
            return []
        self._last_ts = ts
        out: list[EventRow] = []
        persons = (
            detections[detections.class_id == PERSON_CLASS_ID] if len(detections) else detections
        )
        feet = persons.bottom_center.astype(np.float64) if len(persons) else np.zeros((0, 2))
        inside = [points_in_polygon(feet, poly) for poly in self._zone_polygons]
        for zone, mask in zip(self.zones, inside, strict=True):
            self._occupancy[zone.name] = int(mask.sum())

        seen: set[int] = set()
        points = feet.tolist()
        heights = (persons.xyxy[:, 3] - persons.xyxy[:, 1]).tolist() if len(persons) else []
        inside_rows = [mask.tolist() for mask in inside]
        for row, track_id in enumerate(persons.tracker_id.tolist()):
            if track_id == NO_TRACK or track_id in seen:
                continue  # untracked rows never cross; a duplicate id keeps its first row
            seen.add(track_id)
            point = (points[row][0], points[row][1])
            track = self._tracks.get(track_id)
            if track is None:
                track = _Track(track_id, ts, ts, point)
                self._tracks[track_id] = track
            track.last_ts = ts
            displacement = math.hypot(
                point[0] - track.first_point[0], point[1] - track.first_point[1]
            )
            track.max_displacement = max(track.max_displacement, displacement)
            # When someone is partly hidden (another shopper in front, a shelf), the box
            # shrinks to the visible part and its "feet" jump by half a body. Measured on
            # store-aisle-detection.gif, that made a false outward crossing; so a frame whose
            # box height departs > OCCLUSION_JUMP from the track's smoothed height does not
            # move the track across lines (its remembered side stands).
            height = heights[row]
            steady = (
                track.height <= 0 or abs(height - track.height) <= OCCLUSION_JUMP * track.height
            )
            track.height = height if track.height <= 0 else 0.7 * track.height + 0.3 * height
            if steady:
                self._update_lines(ts, track, point, out)
            if not track.qualified and self._qualifies(track):
                track.qualified = True
                for pending in track.pending:
                    self._count_crossing(pending)
                out.extend(track.pending)
                track.pending.clear()
            self._update_zones(ts, track, [rows[row] for rows in inside_rows], out)

        for track_id in list(self._tracks):
            track = self._tracks[track_id]
            if track_id not in seen and ts - track.last_ts > self.track_grace_s:
                out.extend(self._end_track(track))
                del self._tracks[track_id]
        self._publish()
        return out

    def finish(self, ts: float) -> list[EventRow]:
        """Close every open track and visit (shutdown); the engine is empty afterwards."""
        out: list[EventRow] = []
        for track in self._tracks.values():
            out.extend(self._end_track(track))
        self._tracks.clear()
        self._occupancy = {zone.name: 0 for zone in self.zones}
        if self._last_ts is None or ts > self._last_ts:
            self._last_ts = ts
        self._publish()
        return out

    def queue_samples(self, ts: float) -> list[QueueSample]:
        """Current queue length of every queue/checkout zone, stamped ``ts``."""
        lengths = self.state.queue_length
        return [
            QueueSample(ts, self.camera_id, zone.name, lengths.get(zone.name, 0))
            for zone in self.zones
            if zone.kind in QUEUE_KINDS
        ]

    def in_staff_zone(self, detections: Detections) -> np.ndarray:
        """(N,) bool: feet inside a staff zone; the pipeline reads no expressions there."""
        return in_zones(detections, self.zones, frozenset({ZoneKind.STAFF}))

    # ------------------------------------------------------------------ internals

    def _qualifies(self, track: _Track) -> bool:
        return (
            track.last_ts - track.first_ts >= self.min_track_s
            and track.max_displacement >= self.min_displacement_px
        )

    def _update_lines(
        self, ts: float, track: _Track, point: tuple[float, float], out: list[EventRow]
    ) -> None:
        for line in self.lines:
            distance = line.signed_distance(point)
            if abs(distance) < self.line_band_px:
                continue  # inside the hysteresis band: the remembered side stands
            side = 1 if distance > 0 else -1
            previous = track.side.get(line.name)
            anchor = track.anchor.get(line.name)
            track.side[line.name] = side
            track.anchor[line.name] = point
            if previous is None or previous == side or anchor is None:
                continue
            # Where did the path anchor -> point cut the (infinite) line? Only a cut inside
            # the segment is a crossing; walking round its end just changes side.
            d0 = line.signed_distance(anchor)
            share = d0 / (d0 - distance)
            cut = (
                anchor[0] + (point[0] - anchor[0]) * share,
                anchor[1] + (point[1] - anchor[1]) * share,
            )
            # The same tolerance as the band applies along the line: foot points jitter by a
            # few pixels, and a line drawn to the last pixel row of the image must count a
            # person whose box is cut by the frame's edge (its foot point is on the edge).
            slack = self.line_band_px / line.length
            if not -slack <= line.position_along(cut) <= 1.0 + slack:
                continue
            kind = TrackEvent.ENTER if side > 0 else TrackEvent.EXIT
            if (line.name, kind) in track.crossed:
                continue
            track.crossed.add((line.name, kind))
            row = EventRow(ts, self.camera_id, track.track_id, kind, line.name, None)
            if track.qualified:
                self._count_crossing(row)
                out.append(row)
            else:
                track.pending.append(row)

    def _count_crossing(self, row: EventRow) -> None:
        assert row.zone is not None
        if row.kind is TrackEvent.ENTER:
            self._line_in[row.zone] += 1
        else:
            self._line_out[row.zone] += 1

    def _update_zones(
        self, ts: float, track: _Track, inside: list[bool], out: list[EventRow]
    ) -> None:
        for zone, is_inside in zip(self.zones, inside, strict=True):
            visit = track.visits.get(zone.name)
            if is_inside:
                if visit is None:
                    visit = track.visits[zone.name] = _Visit(ts, ts)
                visit.last_inside_ts = ts
                if not visit.counted and ts - visit.enter_ts >= zone.min_dwell_s:
                    visit.counted = True
                    kind = (
                        TrackEvent.QUEUE_JOIN if zone.kind in QUEUE_KINDS else TrackEvent.ZONE_ENTER
                    )
                    out.append(
                        EventRow(visit.enter_ts, self.camera_id, track.track_id, kind, zone.name)
                    )
            elif visit is not None and ts - visit.last_inside_ts > self.zone_exit_grace_s:
                out.extend(self._close_visit(track, zone))

    def _close_visit(self, track: _Track, zone: ZoneConfig) -> list[EventRow]:
        visit = track.visits.pop(zone.name)
        if not visit.counted:
            return []  # shorter than min_dwell_s: not a visit
        kind = TrackEvent.QUEUE_LEAVE if zone.kind in QUEUE_KINDS else TrackEvent.ZONE_EXIT
        dwell = visit.last_inside_ts - visit.enter_ts
        return [
            EventRow(visit.last_inside_ts, self.camera_id, track.track_id, kind, zone.name, dwell)
        ]

    def _end_track(self, track: _Track) -> list[EventRow]:
        out: list[EventRow] = []
        for zone in self.zones:
            if zone.name in track.visits:
                out.extend(self._close_visit(track, zone))
        duration = track.last_ts - track.first_ts
        if duration >= self.min_track_s:
            out.append(
                EventRow(
                    track.last_ts, self.camera_id, track.track_id, TrackEvent.EXIT, None, duration
                )
            )
        return out

    def _publish(self) -> None:
        queue_waits: dict[str, dict[int, float]] = {}
        now = self._last_ts
        for zone in self.zones:
            if zone.kind not in QUEUE_KINDS:
                continue
            waits: dict[int, float] = {}
            for track in self._tracks.values():
                visit = track.visits.get(zone.name)
                if visit is not None and visit.counted and now is not None:
                    waits[track.track_id] = now - visit.enter_ts
            queue_waits[zone.name] = waits
        self.state = EngineState(
            ts=now,
            line_in=dict(self._line_in),
            line_out=dict(self._line_out),
            zone_occupancy=dict(self._occupancy),
            queue_length={name: len(w) for name, w in queue_waits.items()},
            queue_waits=queue_waits,
            active_tracks=len(self._tracks),
        )
