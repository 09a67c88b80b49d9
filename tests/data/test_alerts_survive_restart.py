"""Alerts do not re-fire after a pipeline restart (issue 18, item 4).

Two lifetimes of the pipeline's alert path on one real DuckDB file: a real
:class:`Writer`, the real :class:`AlertRules` of a camera, and between them what the
pipeline does at start (``launcher.resume_alerts``). The Runner itself is left out only
because it would load the person model; its alert rules are these same objects.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from storelens.app.pipeline_process import resume_alerts
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.sink import BATCH_SCHEMAS, to_arrow
from storelens.data.writer import Writer
from storelens.detectors.alerts import REARM_MIN_S, AlertRules
from storelens.detectors.events import EngineState
from storelens.detectors.types import CameraState, CameraStatus, Detections
from storelens.kernel.config import AlertsConfig

CONFIG = AlertsConfig(frustrated_s=10, queue_wait_s=240, offline_s=30)


def frustrated_in_queue(track_ids: list[int], since: float) -> tuple[Detections, EngineState]:
    dets = Detections(
        xyxy=np.array([[0, 0, 10, 30]] * len(track_ids)),
        confidence=np.full(len(track_ids), 0.9),
        class_id=np.zeros(len(track_ids)),
        tracker_id=np.array(track_ids),
        data={"valence": np.array(["frustrated"] * len(track_ids), dtype=object)},
    )
    return dets, EngineState(queue_waits={"checkout 2": {t: since for t in track_ids}})


def lifetime(db: Path, start: float, seconds: int, track_ids: list[int]) -> int:
    """One pipeline run: open the writer, resume, watch the situation, write its alerts."""
    writer = Writer(db)
    try:
        writer.execute_admin(lambda con: upsert_store(con, "s1", "One", "North", "UTC"))
        writer.execute_admin(lambda con: upsert_camera(con, "cam", "s1", "Checkout", "checkout"))
        rules = AlertRules("cam", "Checkout", CONFIG)
        resume_alerts(writer, {"cam": rules}, now=start)
        raised = []
        for t in range(0, seconds, 2):
            dets, state = frustrated_in_queue(track_ids, float(t))
            raised += rules.update(start + t, dets, state)
        if raised:
            writer.append("alerts", to_arrow(raised, BATCH_SCHEMAS["alerts"]), f"alerts-{start}")
        writer.flush()
        return len(raised)
    finally:
        writer.close()


def alert_count(db: Path) -> int:
    writer = Writer(db)
    try:
        cur = writer.cursor()
        return cur.execute("SELECT count(*) FROM alerts").fetchall()[0][0]
    finally:
        writer.close()


def test_a_restart_in_the_middle_of_a_situation_raises_no_second_alert(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    now = time.time() - 600
    assert lifetime(db, now, 30, [7]) == 1  # frustrated for 10 s at checkout 2: one alert
    # kill -9 and restart three minutes later: the tracker hands out new track ids, the
    # same shoppers are still frustrated in the same queue.
    assert lifetime(db, now + 180, 30, [1, 2]) == 0
    assert lifetime(db, now + 360, 30, [1]) == 0
    assert alert_count(db) == 1


def test_a_new_situation_after_a_quiet_zone_still_alerts(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    now = time.time() - 600
    assert lifetime(db, now, 30, [7]) == 1
    # Restart, then the queue stays empty for the re-arm time: the next one is new.
    writer = Writer(db)
    rules = AlertRules("cam", "Checkout", CONFIG)
    try:
        resume_alerts(writer, {"cam": rules}, now=now + 180)
    finally:
        writer.close()
    empty = Detections.empty()
    assert rules.update(now + 180, empty, EngineState(queue_waits={"checkout 2": {}})) == []
    quiet_until = now + 180 + REARM_MIN_S
    assert rules.update(quiet_until, empty, EngineState(queue_waits={"checkout 2": {}})) == []
    fresh = []
    for t in range(0, 14, 2):
        dets, state = frustrated_in_queue([3], float(t))
        fresh += rules.update(quiet_until + 1 + t, dets, state)
    assert [a.kind for a in fresh] == ["frustrated"]


def test_a_camera_alerted_offline_is_not_alerted_again_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "store.duckdb"
    now = time.time() - 600
    writer = Writer(db)
    try:
        rules = AlertRules("cam", "Checkout", CONFIG)
        down = CameraStatus("cam", state=CameraState.OFFLINE, since=now)
        raised = rules.camera_status(now + 31, down)
        assert [a.kind for a in raised] == ["camera_offline"]
        writer.append("alerts", to_arrow(raised, BATCH_SCHEMAS["alerts"]), "offline-1")
        writer.flush()
    finally:
        writer.close()

    writer = Writer(db)  # the restart: the camera is still down
    try:
        rules = AlertRules("cam", "Checkout", CONFIG)
        resume_alerts(writer, {"cam": rules}, now=now + 120)
    finally:
        writer.close()
    trying = CameraStatus("cam", state=CameraState.RECONNECTING, since=now + 120)
    assert rules.camera_status(now + 121, trying) == []
    still_down = CameraStatus("cam", state=CameraState.OFFLINE, since=now + 125)
    assert rules.camera_status(now + 200, still_down) == []  # the same outage
    assert rules.camera_status(now + 300, CameraStatus("cam", state=CameraState.ONLINE)) == []
    again = CameraStatus("cam", state=CameraState.OFFLINE, since=now + 400)
    assert [a.kind for a in rules.camera_status(now + 431, again)] == ["camera_offline"]
