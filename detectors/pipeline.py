"""The runner: all cameras of one store in one process, sharing one copy of each model.

Flow per analysed frame (``CameraPipeline.analyse``):
detect persons (shared model) → track (per camera) → faces inside person boxes
(every k-th frame per track) → expressions (outside staff zones, smoothed per
track) → events (pure state machine) → overlay → JPEG into the :class:`FrameHub`.
``analyse`` returns the frame's result with the rows it made (typed, see
``detectors.rows``); the camera's :class:`~storelens.detectors.rows.RowBuffer` keeps
them until the runner drains it, one Arrow batch per table about once a second.

Scheduling: capture never blocks (each ``CaptureWorker`` keeps only the newest
frame). ``workers`` analysis threads take cameras in round-robin order, each time
serving the next camera that has a frame it has not analysed, so when the CPU
cannot keep up every camera's analysed fps drops by the same share instead of one
camera starving. Two threads overlap one frame's Python work with another's
inference (measured in ``storelens bench``).
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pyarrow as pa
from storelens.data.sink import RowSink
from storelens.detectors.alerts import AlertRow, AlertRules
from storelens.detectors.display import (
    AnalysisSnapshot,
    TileGeometry,
    compose_tile,
    scaled_snapshot,
)
from storelens.detectors.duplicates import drop_untracked_duplicates
from storelens.detectors.events import EngineState, EventEngine, EventRow
from storelens.detectors.hub import FrameHub
from storelens.detectors.overlay import encode_jpeg
from storelens.detectors.rows import DetectionRow, ExpressionRow, Row, RowBuffer, TrackRow
from storelens.detectors.types import (
    NO_TRACK,
    CameraStatus,
    Detections,
    Frame,
    TrackEvent,
)
from storelens.detectors.watchdog import AnalysisJobs, Job
from storelens.kernel.config import AlertsConfig, CameraConfig, StoreLensConfig

if TYPE_CHECKING:
    # Only for typing: the stage modules load their model libraries on import, and the
    # pipeline imports them when (and if) the options ask for that stage.
    from storelens.detectors.expressions import ExpressionReader, TrackReading
    from storelens.detectors.faces import FaceDetector
    from storelens.detectors.persons import PersonModel

# Score keys of readers that give calibrated probabilities (detectors.valence).
_PROBABILITY_KEYS = ("p_satisfied", "p_neutral", "p_frustrated")

log = logging.getLogger(__name__)


@dataclass
class PipelineOptions:
    """Knobs with defaults chosen by ``storelens bench`` on a 2-core CPU."""

    # Issue 12: every captured frame of 12.5–16.7 fps cameras is analysed; measured with
    # `storelens bench` (4 cameras, 54.2 frames/s captured): 15 → 48.7–49.3 analysed/s,
    # 20 → 52.3 (a 16.7 fps camera no longer capped). Faster cameras share the CPU fairly.
    max_fps_per_camera: float = 20.0
    # Person detection every k-th frame while the scene moves, tracker prediction between;
    # in a still scene at least every still_max_skip frames (detectors/gating.py).
    detect_every_k: int = 2
    still_max_skip: int = 12
    batch_interval_s: float = 1.0
    faces: bool = True
    expressions: bool = True
    face_detector: str = "yunet"
    expression_reader: str = "valence-head"  # the learned head (issue 9); old ones selectable
    read_every_k: int = 3  # expression reading per track every k-th analysed frame
    jpeg_quality: int = 70
    # Tiles show every captured frame up to this rate, with the newest analysis drawn on
    # it (detectors/display.py), so video stays smooth while analysis runs at its own rate.
    display_fps: float = 15.0
    tile_width: int = 640  # tiles are downscaled to this before encoding
    workers: int = 2
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    # Watchdog (issue 6, see detectors/watchdog.py): a frame still in analysis after this
    # many seconds is abandoned and its camera gets a fresh pipeline; 0 turns it off.
    # 20 s is far above the slowest frame measured here (cold OpenVINO start, ~2 s).
    frame_timeout_s: float = 20.0
    max_abandoned_threads: int = 4  # beyond this, Runner.fatal is set: restart the process


@dataclass
class SharedModels:
    """One copy of each model for every camera of the store, typed by its stage's Protocol."""

    person: PersonModel
    face: FaceDetector | None = None
    expression: ExpressionReader | None = None

    def __post_init__(self) -> None:
        # Fail at construction, naming the stage, rather than on a camera's first frame.
        from storelens.detectors.expressions import ExpressionReader
        from storelens.detectors.faces import FaceDetector
        from storelens.detectors.persons import PersonModel

        for stage, model, protocol in (
            ("person", self.person, PersonModel),
            ("face", self.face, FaceDetector),
            ("expression", self.expression, ExpressionReader),
        ):
            if model is not None and not isinstance(model, protocol):
                raise TypeError(
                    f"{stage} model {type(model).__name__} is not a {protocol.__name__}"
                )

    @classmethod
    def load(cls, config: StoreLensConfig, options: PipelineOptions) -> SharedModels:
        from storelens.detectors.persons import PersonDetector

        m = config.models
        person = PersonDetector(
            m.person_backend,
            m.person_imgsz,
            m.person_conf,
            m.person_model,
            m.paths.get(m.person_model),
            m.person_device,
            m.person_precision,
        )
        face = expression = None
        if options.faces:
            from storelens.detectors.faces import make_face_detector

            face = make_face_detector(options.face_detector)
        if options.faces and options.expressions:
            from storelens.detectors.expressions import make_expression_reader

            expression = make_expression_reader(options.expression_reader)
        return cls(person, face, expression)

    def close(self) -> None:
        """Release native resources (MediaPipe tasks must be closed before exit)."""
        for model in (self.expression, self.face):
            close = getattr(model, "close", None)
            if close is not None:
                close()


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


class Runner:
    """All cameras of a store: capture workers, analysis threads, batched sink writes."""

    def __init__(
        self,
        config: StoreLensConfig,
        sink: RowSink | None,
        hub: FrameHub | None = None,
        options: PipelineOptions | None = None,
        models: SharedModels | None = None,
        worker_factory: Callable[[CameraConfig], Any] | None = None,
    ) -> None:
        from storelens.detectors.sources import CaptureWorker

        self.config = config
        self.sink = sink
        self.hub = hub or FrameHub()
        self.options = options or PipelineOptions(alerts=config.alerts)
        self._owns_models = models is None
        self.models = models or SharedModels.load(config, self.options)
        self.run_id = uuid.uuid4().hex[:12]
        self._batch_seq = itertools.count(1)
        self.pipelines = {
            c.camera_id: CameraPipeline(c, self.models, self.options) for c in config.cameras
        }
        factory = worker_factory or (
            lambda c: CaptureWorker(c.camera_id, c.name, c.source, realtime=c.realtime, loop=c.loop)
        )
        self.workers = {c.camera_id: factory(c) for c in config.cameras}
        self._locks = {cid: threading.Lock() for cid in self.pipelines}
        self._order = list(self.pipelines)
        self._rr = itertools.cycle(range(len(self._order))) if self._order else None
        self._rr_lock = threading.Lock()
        self._next_due = dict.fromkeys(self.pipelines, 0.0)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.frames_analysed = collections.Counter()
        self.frames_shown = collections.Counter()  # tiles published (display thread)
        self.display_ms: collections.deque[float] = collections.deque(maxlen=500)
        self.snapshots: dict[str, AnalysisSnapshot] = {}  # newest analysis per camera
        self._tile_geometry: dict[tuple[str, float], TileGeometry] = {}  # display thread only
        self.errors = collections.Counter()
        # Watchdog state (issue 6): see detectors/watchdog.py for the trade-offs.
        self.jobs = AnalysisJobs()
        self._generation = dict.fromkeys(self.pipelines, 0)  # bumped when a pipeline is replaced
        self._analysis_threads: set[threading.Thread] = set()
        self._thread_names = itertools.count()
        self.hung = collections.Counter()  # frames abandoned by the watchdog, per camera
        self.late_discarded = collections.Counter()  # results of abandoned frames that came back
        self.abandoned_threads = 0
        self.fatal: str | None = None  # set when the watchdog gave up: restart the process

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Runner:
        for worker in self.workers.values():
            worker.start()
        for _ in range(max(1, self.options.workers)):
            self._spawn_analysis_thread()
        if self.options.frame_timeout_s > 0:
            watchdog = threading.Thread(
                target=self._watchdog_loop, name="frame-watchdog", daemon=True
            )
            watchdog.start()
            self._threads.append(watchdog)
        display = threading.Thread(target=self._display_loop, name="tile-display", daemon=True)
        display.start()
        self._threads.append(display)
        flusher = threading.Thread(target=self._flush_loop, name="batch-flusher", daemon=True)
        flusher.start()
        self._threads.append(flusher)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop capture and analysis, close open tracks, and flush every row to the sink."""
        self._stop.set()
        for worker in self.workers.values():
            worker.stop(timeout=timeout)
        for thread in self._threads:
            # A thread the watchdog abandoned is stuck in a model call: do not wait for it.
            abandoned = thread.name.startswith("analysis-") and thread not in self._analysis_threads
            thread.join(0.1 if abandoned else timeout)
        now = time.time()
        for cid, pipeline in self.pipelines.items():
            lock = self._locks[cid]
            if not lock.acquire(timeout=timeout):  # a hung frame holds it: skip that camera
                log.error(
                    "camera %s: analysis still busy at stop; its open tracks are not closed", cid
                )
                continue
            try:
                pipeline.finish(now)
            finally:
                lock.release()
        self.flush_rows()
        if self.sink is not None:
            self.sink.flush(timeout)
        if self._owns_models:
            self.models.close()

    # -- scheduling ------------------------------------------------------------------------
    def _pick(self) -> tuple[str, Frame] | None:
        """Next camera in round-robin order that has an unanalysed frame and is due."""
        if not self._order:
            return None
        now = time.monotonic()
        with self._rr_lock:
            for _ in range(len(self._order)):
                cid = self._order[next(self._rr)]
                if now < self._next_due[cid] or self._locks[cid].locked():
                    continue
                frame = self.workers[cid].latest()
                if frame is not None:
                    self._next_due[cid] = now + 1.0 / self.options.max_fps_per_camera
                    return cid, frame
        return None

    def _spawn_analysis_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self._analysis_loop, name=f"analysis-{next(self._thread_names)}", daemon=True
        )
        self._analysis_threads.add(thread)
        self._threads.append(thread)
        thread.start()
        return thread

    def _analysis_loop(self) -> None:
        me = threading.current_thread()
        # An abandoned thread (see _abandon) leaves the pool and ends once its call returns.
        while not self._stop.is_set() and me in self._analysis_threads:
            picked = self._pick()
            if picked is None:
                time.sleep(0.005)
                continue
            cid, frame = picked
            lock = self._locks[cid]
            # Bounded wait: a thread must never block unseen behind a hung frame of this
            # camera (the watchdog only sees threads inside analyse_one); drop the frame.
            if not lock.acquire(timeout=1.0):
                continue
            try:
                generation = self._generation[cid]
                self.jobs.begin(me, cid, frame.index)
                try:
                    self.analyse_one(cid, frame, generation)
                finally:
                    self.jobs.end(me)
            finally:
                lock.release()

    def _watchdog_loop(self) -> None:
        timeout = self.options.frame_timeout_s
        while not self._stop.wait(min(1.0, timeout / 4)):
            for job in self.jobs.overdue(timeout):
                self._abandon(job)

    def _abandon(self, job: Job) -> None:
        """Give up on a hung frame: fresh pipeline + lock for its camera, a new thread."""
        cid = job.camera_id
        with self._rr_lock:  # _pick must not see a half-replaced camera
            if job.thread not in self._analysis_threads:
                return
            self._analysis_threads.discard(job.thread)
            self.jobs.end(job.thread)
            self.hung[cid] += 1
            self.abandoned_threads += 1
            old = self.pipelines[cid]
            self._generation[cid] += 1
            self.pipelines[cid] = CameraPipeline(old.camera, self.models, self.options)
            self._locks[cid] = threading.Lock()
        log.error(
            "camera %s: frame %d still in analysis after %.0f s; frame dropped, thread %s abandoned, "
            "camera continues with a fresh pipeline",
            cid,
            job.frame_index,
            time.monotonic() - job.started,
            job.thread.name,
        )
        try:  # the stuck thread waits inside a model call; the old tracks end here
            old.finish(time.time())
            self._send(cid, old.drain())
        except Exception:
            log.exception("camera %s: rows of the abandoned pipeline could not be sent", cid)
        if self.abandoned_threads > self.options.max_abandoned_threads:
            self.fatal = (
                f"{self.abandoned_threads} analysis threads hung (last: camera {cid}); "
                "restart the pipeline process"
            )
            log.error("watchdog: %s", self.fatal)
            return
        self._spawn_analysis_thread()

    def counters(self) -> dict[str, dict[str, Any]]:
        """Per camera: analysis and capture counters (soak runs and health pages read these)."""
        out: dict[str, dict[str, Any]] = {}
        for cid, worker in self.workers.items():
            status = worker.status()
            out[cid] = {
                "frames_analysed": self.frames_analysed[cid],
                "frames_failed": self.errors[cid],
                "frames_hung": self.hung[cid],
                "late_discarded": self.late_discarded[cid],
                "frames_captured": getattr(worker, "frames_captured", 0),
                "corrupt_frames": getattr(worker, "corrupt_frames", 0),
                "resolution_changes": getattr(worker, "resolution_changes", 0),
                "dropped_frames": status.dropped_frames,
                "reconnects": status.reconnects,
                "state": str(status.state),
                "analysed_fps": self.pipelines[cid].analysed_fps,
            }
        return out

    def analyse_one(self, cid: str, frame: Frame, generation: int | None = None) -> None:
        pipeline = self.pipelines[cid]
        try:
            result = pipeline.analyse(frame)
        except Exception as exc:  # one bad frame (or model hiccup) must not stop the camera
            self.errors[cid] += 1
            log.warning("camera %s: frame %d dropped: %s", cid, frame.index, exc)
            return
        if generation is not None and generation != self._generation[cid]:
            self.late_discarded[cid] += 1  # the watchdog gave up on this frame meanwhile
            return
        self.frames_analysed[cid] += 1
        # The display thread draws this on every frame it shows until a newer one comes.
        self.snapshots[cid] = AnalysisSnapshot(frame.ts, result.detections, result.state)
        self.hub.set_status(self._status_with_fps(cid))

    # -- display ---------------------------------------------------------------------------
    def _display_loop(self) -> None:
        """Every captured frame (up to display_fps per camera) to the hub, with the newest
        analysis drawn on it and blurred by its age (detectors/display.py)."""
        min_gap = 1.0 / self.options.display_fps
        shown: dict[str, Frame] = {}
        next_due = dict.fromkeys(self.workers, 0.0)
        while not self._stop.is_set():
            busy = False
            for cid, worker in list(self.workers.items()):
                # Peek, never consume: the consumable slot is the analysis threads' (a
                # frame taken here would be a frame analysis never sees).
                frame = worker.latest(consume=False)
                now = time.monotonic()
                if frame is None or frame is shown.get(cid) or now < next_due[cid]:
                    continue
                shown[cid] = frame
                next_due[cid] = max(next_due[cid] + min_gap, now - min_gap)
                try:
                    self.show(cid, frame)
                except Exception:  # a tile must never stop the others (or the analysis)
                    log.exception("camera %s: could not draw frame %d", cid, frame.index)
                busy = True
            if not busy:
                self._stop.wait(0.004)

    def show(self, cid: str, frame: Frame) -> None:
        """Compose, encode and publish one tile of ``frame``."""
        t = time.perf_counter()
        camera = self.pipelines[cid].camera
        image, snapshot = frame.image, self.snapshots.get(cid)
        # Down to tile size first, then blur and draw there: a 1080p camera costs what a
        # 640 px one does (blurring and drawing at full size then resizing cost 4-5x).
        scale = min(1.0, self.options.tile_width / image.shape[1])
        if scale < 1:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            snapshot = scaled_snapshot(snapshot, scale)
        geometry = self._tile_geometry.get((cid, scale))
        if geometry is None:
            geometry = TileGeometry.scaled(camera.lines, camera.zones, scale)
            self._tile_geometry[(cid, scale)] = geometry
        image = compose_tile(
            image,
            frame.ts,
            snapshot,
            lines=geometry.lines,
            zones=geometry.zones,
            status=self._status_with_fps(cid),
        )
        jpeg = encode_jpeg(image, self.options.jpeg_quality, frame.image.shape[1::-1])  # (w, h)
        self.hub.publish(cid, frame.ts, jpeg)
        self.frames_shown[cid] += 1
        self.display_ms.append((time.perf_counter() - t) * 1000)

    # -- batching --------------------------------------------------------------------------
    def _flush_loop(self) -> None:
        while not self._stop.wait(self.options.batch_interval_s):
            now = time.time()
            for cid, pipeline in list(self.pipelines.items()):
                lock = self._locks[cid]
                # Never block on a camera whose frame is hung: the other cameras' rows go on.
                if lock.acquire(timeout=0.2):
                    try:
                        pipeline.sample_queues(now)
                    finally:
                        lock.release()
                status = self._status_with_fps(cid)
                self.hub.set_status(status)
                pipeline.camera_status(now, status)
            self.flush_rows()

    def _status_with_fps(self, cid: str) -> CameraStatus:
        status = self.workers[cid].status()
        status.analysed_fps = self.pipelines[cid].analysed_fps
        status.target_fps = min(status.capture_fps, self.options.max_fps_per_camera)
        return status

    def flush_rows(self) -> int:
        """Hand every camera's pending rows to the sink; returns the number of rows."""
        total = 0
        for cid, pipeline in list(self.pipelines.items()):
            lock = self._locks[cid]
            if not lock.acquire(timeout=0.2):  # hung frame: its rows wait for the watchdog
                continue
            try:
                tables = pipeline.drain()
            finally:
                lock.release()
            total += self._send(cid, tables)
        return total

    def _send(self, cid: str, tables: dict[str, pa.Table]) -> int:
        if self.sink is None:
            return 0
        total = 0
        for table_name, rows in tables.items():
            batch_id = f"{self.run_id}:{cid}:{table_name}:{next(self._batch_seq)}"
            self.sink.append(table_name, rows, batch_id)
            total += rows.num_rows
        return total
