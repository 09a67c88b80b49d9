"""One camera's analysis: every stage of a frame, and the rows it makes.

Flow per analysed frame (``CameraPipeline.analyse``):
detect persons (shared model) → track (per camera) → faces inside person boxes
(every k-th frame per track) → expressions (outside staff zones, smoothed per
track) → events (pure state machine) → alerts. ``analyse`` returns the frame's
result with the rows it made (typed, see ``detectors.rows``); the camera's
:class:`~storelens.detectors.rows.RowBuffer` keeps them until the runner
(``detectors.runner``) drains it, one Arrow batch per table about once a second.
The models are shared by every camera (``detectors.shared_models``); the tracker,
the event engine, the smoother and the buffers are this camera's own.
"""

from __future__ import annotations

import collections
import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from storelens.detectors.alerts import AlertRow, AlertRules
from storelens.detectors.duplicates import drop_untracked_duplicates
from storelens.detectors.events import EngineState, EventEngine, EventRow
from storelens.detectors.rows import DetectionRow, ExpressionRow, Row, RowBuffer, TrackRow
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.detectors.types import (
    NO_TRACK,
    CameraStatus,
    Detections,
    Frame,
    TrackEvent,
)
from storelens.kernel.config import CameraConfig

if TYPE_CHECKING:
    # Only for typing: the expression stage loads its model libraries on import, and the
    # pipeline imports it when (and if) the options ask for that stage.
    from storelens.detectors.expressions import TrackReading

# Score keys of readers that give calibrated probabilities (detectors.valence).
_PROBABILITY_KEYS = ("p_satisfied", "p_neutral", "p_frustrated")


@dataclass
class _TrackSummary:
    first_ts: float
    last_ts: float
    zones: set[str] = field(default_factory=set)
    valence: str | None = None
    faces_read: int = 0
    # Sums of calibrated P(satisfied, neutral, frustrated) over readable raw readings.
    prob_sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])
    prob_readings: int = 0

    def mean_probabilities(self) -> tuple[float | None, float | None, float | None]:
        if not self.prob_readings or self.valence is None:
            return None, None, None
        n = self.prob_readings
        return (self.prob_sums[0] / n, self.prob_sums[1] / n, self.prob_sums[2] / n)


@dataclass
class AnalysedFrame:
    """What one frame gave: its detections, events and engine state, and the rows it made
    (also in the camera's row buffer, which the runner drains)."""

    detections: Detections
    events: list[EventRow]  # every event, track ends included (those become track rows)
    detected: bool = True  # False: boxes are the tracker's prediction (detectors/gating.py)
    state: EngineState = field(default_factory=EngineState)
    rows: list[Row] = field(default_factory=list)
    # The expression readings made this frame, per-reading and smoothed (an evaluation
    # scores both: ``storelens evaluate expressions --clip``).
    readings: list[TrackReading] = field(default_factory=list)


class CameraPipeline:
    """Per-camera analysis state: tracker, event engine, smoother, row buffers."""

    def __init__(
        self, camera: CameraConfig, models: SharedModels, options: PipelineOptions
    ) -> None:
        from storelens.detectors.tracking import PersonTracker

        self.camera = camera
        self.models = models
        self.options = options
        from storelens.detectors.gating import DetectionGate

        # The tracker counts updates, not frames: its buffer (3 s) is in detected frames.
        self.tracker = PersonTracker(
            analysed_fps=options.max_fps_per_camera / max(1, options.detect_every_k)
        )
        self.gate = DetectionGate(options.detect_every_k, options.still_max_skip)
        self.engine = EventEngine(camera.camera_id, camera.lines, camera.zones)
        self.alert_rules = AlertRules(
            camera.camera_id,
            camera.name,
            options.alerts,
            {zone.name: str(zone.kind) for zone in camera.zones},
        )
        self.rows = RowBuffer()
        self.smoother = self.scheduler = self.resting = None
        if models.expression is not None:
            from storelens.detectors.expressions import (
                ExpressionScheduler,
                ExpressionSmoother,
                resting_face_for,
            )

            self.smoother = ExpressionSmoother()
            self.resting = resting_face_for(models.expression)
            self.scheduler = ExpressionScheduler(every_k=options.read_every_k)
        self._frame_count = 0
        self.faces_read = 0  # expression readings made on a detected face
        self._face_memory: dict[int, tuple[np.ndarray, int]] = {}
        self._tracks: dict[int, _TrackSummary] = {}
        self.stage_ms: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=200)
        )
        self.analysed_times: collections.deque[float] = collections.deque(maxlen=30)

    def _timed(self, stage: str, start: float) -> float:
        now = time.perf_counter()
        self.stage_ms[stage].append((now - start) * 1000)
        return now

    def analyse(self, frame: Frame) -> AnalysedFrame:
        """Run every stage on ``frame``; its rows go to :attr:`rows` and into the result."""
        t = time.perf_counter()
        rows: list[Row] = []
        image = frame.image
        gap = self.gate.frames_since_detect + 1
        detected = self.gate.update(image)
        if detected:
            dets = self.models.person.detect(image)
            t = self._timed("detect", t)
            self.tracker.note_gap(gap)
            # A second box on a tracked person is no second person (detectors/duplicates.py).
            dets = drop_untracked_duplicates(self.tracker.update(dets))
            t = self._timed("track", t)
        else:
            dets = self.tracker.predict(self.gate.frames_since_detect)
            t = self._timed("predict", t)
        # Kalman-smoothed and predicted boxes may reach past the frame; feet outside it
        # would fall out of zones drawn to the frame's edge (a staff zone, say).
        h, w = image.shape[:2]
        np.clip(dets.xyxy, 0, np.array([w - 1, h - 1, w - 1, h - 1], np.float32), out=dets.xyxy)
        self._frame_count += 1
        staff = self.engine.in_staff_zone(dets) if len(dets) else np.zeros(0, bool)
        readings: list[TrackReading] = []
        if self.models.face is not None and len(dets):
            # Faces are searched only on detected frames (predicted boxes are estimates) and
            # only for tracks due for an expression reading (every k-th detection per track,
            # never in staff zones); other rows reuse their track's last face box, moved
            # with the person box. The overlay blurs the head region of a row without one.
            if not detected:
                due = np.zeros(len(dets), dtype=bool)
            elif self.scheduler is not None:
                due = self.scheduler.should_read(dets.tracker_id, staff)
            else:
                due = ~staff
            dets = self._faces(image, dets, due)
            t = self._timed("face", t)
            if self.scheduler is not None:
                from storelens.detectors.expressions import annotate_expressions

                dets, readings = annotate_expressions(
                    image,
                    dets,
                    self.models.expression,
                    self.smoother,
                    should_read=due,
                    resting=self.resting,
                )
                rows += self._record_expressions(frame.ts, readings)
                t = self._timed("expression", t)
        events = self.engine.update(frame.ts, dets)
        state = self.engine.state
        alerts = self.alert_rules.update(frame.ts, dets, state)
        t = self._timed("events", t)
        rows += self._record(frame.ts, dets, events)
        rows += alerts
        self.rows.add(rows)
        self.analysed_times.append(time.monotonic())
        return AnalysedFrame(dets, events, detected, state, rows, readings)

    def _faces(self, image: np.ndarray, dets: Detections, due: np.ndarray) -> Detections:
        faces = np.full((len(dets), 4), np.nan, dtype=np.float32)
        if due.any():
            data = self.models.face.detect(image, dets[due]).data
            found = data["face_xyxy"]
            if "face_facing" in data:  # a back or profile of a head is no face to read
                found[~data["face_facing"]] = np.nan
            faces[due] = found
        boxes = dets.xyxy
        size = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]], axis=1).clip(min=1)
        for row, track_id in enumerate(dets.tracker_id.tolist()):
            if track_id == NO_TRACK:
                continue
            if not np.isnan(faces[row]).any():
                # Remember the face relative to its person box, to follow it between reads.
                rel = (faces[row].reshape(2, 2) - boxes[row, :2]) / size[row]
                self._face_memory[track_id] = (rel, self._frame_count)
            elif track_id in self._face_memory:
                rel, seen = self._face_memory[track_id]
                # Faces are read every read_every_k-th detection, detections come every
                # detect_every_k frames: keep a face box for two reading periods.
                period = self.options.read_every_k * max(1, self.options.detect_every_k)
                if self._frame_count - seen <= 2 * period:
                    faces[row] = (rel * size[row] + boxes[row, :2]).reshape(4)
        if len(self._face_memory) > 4 * max(len(dets), 16):
            active = set(dets.tracker_id.tolist())
            self._face_memory = {k: v for k, v in self._face_memory.items() if k in active}
        return dets.with_column("face_xyxy", faces)

    @property
    def analysed_fps(self) -> float:
        times = self.analysed_times
        if len(times) < 2 or time.monotonic() - times[-1] > 3:
            return 0.0
        return (len(times) - 1) / max(times[-1] - times[0], 1e-6)

    def _record(self, ts: float, dets: Detections, events: list[EventRow]) -> list[Row]:
        """Detection, event and track rows of one frame; notes each track's span and zones."""
        cam = self.camera.camera_id
        rows: list[Row] = []
        for (x1, y1, x2, y2), conf, tid in zip(
            dets.xyxy, dets.confidence, dets.tracker_id, strict=True
        ):
            box = float(x1), float(y1), float(x2), float(y2)
            rows.append(DetectionRow(ts, cam, int(tid), "person", *box, float(conf)))
            if tid != NO_TRACK:
                summary = self._tracks.get(int(tid))
                if summary is None:
                    self._tracks[int(tid)] = _TrackSummary(ts, ts)
                else:
                    summary.last_ts = ts
        if "face_xyxy" in dets.data:
            for face, tid in zip(dets.data["face_xyxy"], dets.tracker_id, strict=True):
                if not np.isnan(face).any():
                    x1, y1, x2, y2 = (float(v) for v in face)
                    rows.append(DetectionRow(ts, cam, int(tid), "face", x1, y1, x2, y2, 1.0))
        for event in events:
            if event.is_track_end:
                # A track's end goes to the tracks table; in events, enter/exit are only
                # line crossings, so footfall and occupancy count nothing else.
                rows += self._close_track(event.track_id)
                continue
            rows.append(event)
            summary = self._tracks.get(event.track_id)
            if (
                event.kind in (TrackEvent.ZONE_ENTER, TrackEvent.QUEUE_JOIN)
                and summary
                and event.zone
            ):
                summary.zones.add(event.zone)
        return rows

    def _record_expressions(self, ts: float, readings: list[TrackReading]) -> list[Row]:
        """Expression rows of one frame; adds each reading to its track's summary."""
        rows: list[Row] = []
        self.faces_read += len(readings)
        for made in readings:
            track_id, reading = made.track_id, made.reading
            rows.append(
                ExpressionRow(
                    ts,
                    self.camera.camera_id,
                    int(track_id),
                    reading.label,
                    str(reading.valence),
                    float(reading.confidence),
                    json.dumps({k: round(float(v), 4) for k, v in reading.scores.items()}),
                    reading.model,
                )
            )
            summary = self._tracks.get(int(track_id))
            if summary is not None:
                summary.faces_read += 1
                if str(reading.valence) != "unknown":
                    summary.valence = str(reading.valence)
                raw = made.raw
                if raw.readable and all(k in raw.scores for k in _PROBABILITY_KEYS):
                    for i, key in enumerate(_PROBABILITY_KEYS):
                        summary.prob_sums[i] += float(raw.scores[key])
                    summary.prob_readings += 1
        return rows

    def _close_track(self, track_id: int) -> list[Row]:
        """The track's row (none for a track never seen in a frame); forgets its state."""
        summary = self._tracks.pop(track_id, None)
        if summary is None:
            return []
        if self.smoother is not None:
            self.smoother.forget(track_id)
            self.resting.forget(track_id)
        if self.scheduler is not None:
            self.scheduler.retain(list(self._tracks))
        return [
            TrackRow(
                self.camera.camera_id,
                track_id,
                summary.first_ts,
                summary.last_ts,
                json.dumps(sorted(summary.zones)),
                summary.valence,
                summary.faces_read,
                *summary.mean_probabilities(),
            )
        ]

    def sample_queues(self, ts: float) -> None:
        """Buffer the current length of every queue zone, stamped ``ts``."""
        self.rows.add(self.engine.queue_samples(ts))

    def camera_status(self, ts: float, status: CameraStatus) -> list[AlertRow]:
        """Buffer (and return) the alerts the camera's status raises: an offline camera
        has no frames to analyse, so the runner calls this on its own clock."""
        alerts = self.alert_rules.camera_status(ts, status)
        self.rows.add(alerts)
        return alerts

    def finish(self, ts: float) -> list[Row]:
        """End every open visit and track at ``ts``; buffers (and returns) their rows."""
        rows = self._record(ts, Detections.empty(), self.engine.finish(ts))
        for track_id in list(self._tracks):
            rows += self._close_track(track_id)
        self.rows.add(rows)
        return rows

    def drain(self) -> dict[str, pa.Table]:
        """Everything buffered since the last drain, as Arrow tables (empty ones omitted)."""
        return self.rows.drain()
