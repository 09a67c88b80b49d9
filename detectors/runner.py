"""The runner: all cameras of one store in one process, sharing one copy of each model.

It owns five kinds of thread: a capture worker per camera (``detectors.sources``),
``workers`` analysis threads that run each camera's
:class:`~storelens.detectors.pipeline.CameraPipeline`, the frame watchdog
(``detectors.watchdog``), the display thread that draws every shown frame into the
:class:`FrameHub`, and the batch flusher that hands rows to the sink about once a second.

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
import logging
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import cv2
import pyarrow as pa
from storelens.data.sink import RowSink
from storelens.detectors.display import (
    AnalysisSnapshot,
    TileGeometry,
    compose_tile,
    scaled_snapshot,
)
from storelens.detectors.hub import FrameHub
from storelens.detectors.overlay import encode_jpeg
from storelens.detectors.pipeline import CameraPipeline
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.detectors.types import CameraStatus, Frame
from storelens.detectors.watchdog import AnalysisJobs, Job
from storelens.kernel.config import CameraConfig, StoreLensConfig

log = logging.getLogger(__name__)


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
