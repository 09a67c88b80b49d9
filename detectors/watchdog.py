"""Per-frame watchdog for the analysis threads (issue 6: "a model hanging on one frame").

Python cannot kill a thread, so a model call that never returns cannot be interrupted.
What the :class:`~storelens.detectors.runner.Runner` does instead, when one frame's analysis has
run longer than ``PipelineOptions.frame_timeout_s``:

* the stuck thread is *abandoned*: it leaves the pool of analysis threads, and if its
  call ever returns, its result is discarded and the thread ends;
* its camera gets a fresh :class:`~storelens.detectors.pipeline.CameraPipeline` and a fresh lock
  (the old lock is still held by the stuck thread; the old pipeline's tracker may be
  mid-update), after the old pipeline's open tracks are closed and its rows are sent on;
* a replacement thread joins the pool, so the other cameras, and this one, keep going.

Trade-offs, written down on purpose:

* the frame in flight is dropped, and the camera's tracks restart (new track ids from 1,
  exactly as after a pipeline restart; rows are keyed by ``first_ts`` too, so nothing
  merges);
* each abandoned thread keeps its memory (and possibly a CPU core) until the call
  returns. After ``max_abandoned_threads`` abandonments the runner stops replacing
  threads and sets ``Runner.fatal``: a model that hangs again and again needs a process
  restart (the supervisor's job), not more threads;
* a hang *inside* the shared model while it holds its own lock (``PersonDetector``
  serialises calls) stalls every camera's detection; the watchdog then trips camera after
  camera until ``fatal`` is set. Only a separate inference process would isolate that,
  at the price of copying every frame across a process boundary.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Job:
    """One frame being analysed by one thread."""

    thread: threading.Thread
    camera_id: str
    frame_index: int
    started: float  # time.monotonic()


class AnalysisJobs:
    """Which analysis thread is working on which frame, since when (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[threading.Thread, Job] = {}

    def begin(self, thread: threading.Thread, camera_id: str, frame_index: int) -> None:
        with self._lock:
            self._jobs[thread] = Job(thread, camera_id, frame_index, time.monotonic())

    def end(self, thread: threading.Thread) -> None:
        with self._lock:
            self._jobs.pop(thread, None)

    def overdue(self, timeout_s: float) -> list[Job]:
        """Jobs running for longer than ``timeout_s``, oldest first."""
        now = time.monotonic()
        with self._lock:
            jobs = [j for j in self._jobs.values() if now - j.started > timeout_s]
        return sorted(jobs, key=lambda j: j.started)

    def running(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())
