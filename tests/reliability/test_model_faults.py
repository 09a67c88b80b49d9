"""Fault: a model raising or hanging on one frame (issue 6, item 1).

Real parts: the real YOLO person detector on real footage, the real Runner with its
capture workers and analysis threads, a real DuckDB Writer. The fault is INJECTED: a
wrapper around the real detector (``FaultyPersonDetector``) raises on one call and hangs
on another, and only for camera A's first pipeline; camera B shares the real model.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path

import pytest
from storelens.data.writer import Writer
from storelens.detectors.runner import Runner
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.kernel.config import CameraConfig, StoreLensConfig

from tests.reliability.support import FaultyPersonDetector, wait_until

pytestmark = pytest.mark.fault


class AnalysisLog:
    """When each camera's frames finished analysis (an observer of the real runner only).

    Tiles no longer mark analysis: the display thread shows every captured frame whether
    or not analysis keeps up (detectors/display.py), so recovery is timed on analysis.
    """

    def __init__(self, runner: Runner) -> None:
        self.analysed: list[tuple[str, float]] = []
        original = runner.analyse_one

        def observed(cid: str, frame, generation: int | None = None) -> None:
            before = runner.frames_analysed[cid]
            original(cid, frame, generation)
            if runner.frames_analysed[cid] > before:
                self.analysed.append((cid, time.monotonic()))

        runner.analyse_one = observed

    def first_after(self, camera_id: str, t: float) -> float | None:
        return next((at for cid, at in list(self.analysed) if cid == camera_id and at > t), None)


def test_model_raising_then_hanging_drops_one_frame_each_and_camera_goes_on(
    store_gif: Path, media_dir: Path, person_detector, tmp_path: Path, fault_record
) -> None:
    config = StoreLensConfig(
        cameras=[
            CameraConfig(camera_id="cam-a", name="A", source=str(store_gif)),
            # Four people in view all along: B has rows to write in every batch, so "rows
            # kept reaching the database while A hung" cannot fail for want of people (the
            # one-person clip shows someone for ~1 s of its 1.8 s loop).
            CameraConfig(camera_id="cam-b", name="B", source=str(media_dir / "classroom.gif")),
        ]
    )
    models = SharedModels(person=person_detector)
    faulty = FaultyPersonDetector(person_detector, raise_on={4}, hang_on={10})
    writer = Writer(tmp_path / "faults.duckdb")
    options = PipelineOptions(
        faces=False, workers=2, frame_timeout_s=3.0, batch_interval_s=0.5, max_fps_per_camera=6
    )
    runner = Runner(config, writer, None, options, models=models)
    hub = AnalysisLog(runner)
    # Inject the fault into camera A's current pipeline only; a replacement pipeline made by
    # the watchdog gets the runner's real models.
    runner.pipelines["cam-a"].models = dataclasses.replace(models, person=faulty)
    runner.start()
    try:
        assert wait_until(lambda: faulty.raised_at is not None, 120), "camera A never analysed"
        raised_at = faulty.raised_at
        assert wait_until(lambda: hub.first_after("cam-a", raised_at) is not None, 60)
        raise_recovery = hub.first_after("cam-a", raised_at) - raised_at
        assert runner.errors["cam-a"] == 1

        assert wait_until(lambda: faulty.hang_started is not None, 120)
        hang_at = faulty.hang_started
        stuck = next(j.thread for j in runner.jobs.running() if j.camera_id == "cam-a")
        b_before = runner.frames_analysed["cam-b"]
        committed_before = writer.stats.batches_committed
        assert wait_until(lambda: runner.hung["cam-a"] == 1, 60), "watchdog never tripped"
        # While A's frame hung, B kept being analysed and rows kept reaching the database.
        assert runner.frames_analysed["cam-b"] > b_before
        assert writer.stats.batches_committed > committed_before

        a_at_trip = runner.frames_analysed["cam-a"]
        assert wait_until(lambda: runner.frames_analysed["cam-a"] >= a_at_trip + 5, 120), (
            "camera A did not keep going after its hung frame was abandoned"
        )
        hang_recovery = hub.first_after("cam-a", hang_at) - hang_at
        assert runner.fatal is None
        pool = list(runner._analysis_threads)
        assert len(pool) == options.workers and all(t.is_alive() for t in pool)
        assert stuck not in pool and stuck.is_alive()

        # The stuck call finally returns: its result is discarded and the thread ends.
        faulty.release.set()
        stuck.join(timeout=60)
        assert not stuck.is_alive(), "abandoned analysis thread left hanging"
        assert wait_until(lambda: runner.late_discarded["cam-a"] == 1, 10)
    finally:
        faulty.release.set()
        runner.stop()
        writer.close()
    counters = runner.counters()
    assert counters["cam-a"]["frames_failed"] == 1 and counters["cam-a"]["frames_hung"] == 1
    assert counters["cam-b"]["frames_failed"] == 0 and counters["cam-b"]["frames_hung"] == 0
    assert not [
        t
        for t in threading.enumerate()
        if t.name.startswith("analysis-") and t in pool and t.is_alive()
    ]
    fault_record(
        "model raises on one frame", raise_recovery, "1 frame", "camera A, next frame analysed"
    )
    fault_record(
        "model hangs on one frame (watchdog 3 s)",
        hang_recovery,
        "1 frame",
        "tracks of cam A restart; cam B never stalled",
    )


def test_a_model_that_hangs_again_and_again_sets_fatal_instead_of_leaking_threads(
    store_gif: Path, person_detector, fault_record
) -> None:
    config = StoreLensConfig(
        cameras=[CameraConfig(camera_id="cam-a", name="A", source=str(store_gif))]
    )
    # INJECTED FAULT: every call hangs, in every pipeline the watchdog builds.
    faulty = FaultyPersonDetector(person_detector, hang_on=set(range(1, 1000)))
    options = PipelineOptions(faces=False, workers=1, frame_timeout_s=1.0, max_abandoned_threads=2)
    runner = Runner(config, None, options=options, models=SharedModels(person=faulty))
    started = time.monotonic()
    runner.start()
    try:
        assert wait_until(lambda: runner.fatal is not None, 120), "watchdog never gave up"
        gave_up_s = time.monotonic() - started
        time.sleep(2.5)  # the watchdog must not spawn more threads after giving up
        assert runner.abandoned_threads == options.max_abandoned_threads + 1
        assert runner.hung["cam-a"] == options.max_abandoned_threads + 1
        assert "restart the pipeline process" in runner.fatal
    finally:
        faulty.release.set()
        runner.stop()
    fault_record(
        "model hangs on every frame (bounded)",
        gave_up_s,
        "all frames",
        f"Runner.fatal after {options.max_abandoned_threads + 1} abandoned threads; no more spawned",
    )
