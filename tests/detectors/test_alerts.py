"""Alert rules as tables of synthetic frames: no video, no models."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.alerts import AlertRules, alerts_to_arrow
from detectors.config import AlertsConfig
from detectors.events import EngineState
from detectors.types import CameraState, CameraStatus, Detections

CONFIG = AlertsConfig(frustrated_s=10, queue_wait_s=240, offline_s=30)


def frame(valences: dict[int, str]) -> Detections:
    ids = list(valences)
    return Detections(
        xyxy=np.array([[0, 0, 10, 30]] * len(ids)),
        confidence=np.full(len(ids), 0.9),
        class_id=np.zeros(len(ids)),
        tracker_id=np.array(ids),
        data={"valence": np.array([valences[i] for i in ids], dtype=object)},
    )


def queue(waits: dict[int, float]) -> EngineState:
    return EngineState(queue_waits={"checkout": waits})


@pytest.mark.parametrize(
    ("steps", "expected_kinds"),
    [
        # frustrated in the queue for 12 s → one alert, not one per frame
        ([(t, {1: "frustrated"}, {1: t}) for t in range(0, 14, 2)], ["frustrated"]),
        # frustrated but only for 8 s → nothing
        ([(t, {1: "frustrated"}, {1: t}) for t in range(0, 10, 2)], []),
        # frustrated for 12 s but NOT in a queue/checkout zone → nothing
        ([(t, {1: "frustrated"}, {}) for t in range(0, 14, 2)], []),
        # frustration interrupted by a neutral reading restarts the clock
        (
            [
                (0, {1: "frustrated"}, {1: 0}),
                (6, {1: "neutral"}, {1: 6}),
                (8, {1: "frustrated"}, {1: 8}),
                (14, {1: "frustrated"}, {1: 14}),
            ],
            [],
        ),
        # a wait over 4 minutes → one queue_wait alert per track
        (
            [
                (0, {1: "neutral", 2: "neutral"}, {1: 200, 2: 10}),
                (50, {1: "neutral", 2: "neutral"}, {1: 250, 2: 60}),
                (60, {1: "neutral", 2: "neutral"}, {1: 260, 2: 70}),
            ],
            ["queue_wait"],
        ),
    ],
)
def test_alert_rules(steps, expected_kinds) -> None:
    rules = AlertRules("cam", "Checkout 1", CONFIG)
    kinds = []
    for ts, valences, waits in steps:
        kinds += [row.kind for row in rules.update(float(ts), frame(valences), queue(waits))]
    assert kinds == expected_kinds


def test_camera_offline_alerts_once_per_outage() -> None:
    rules = AlertRules("cam", "Entrance", CONFIG)
    down = CameraStatus(
        "cam", state=CameraState.OFFLINE, since=1000.0, last_error="rtsp://u:***@h: timeout"
    )
    assert rules.camera_status(1010.0, down) == []
    first = rules.camera_status(1031.0, down)
    assert [a.kind for a in first] == ["camera_offline"] and "***" in first[0].detail
    assert rules.camera_status(1090.0, down) == []
    assert rules.camera_status(1100.0, CameraStatus("cam", state=CameraState.ONLINE)) == []
    again = CameraStatus("cam", state=CameraState.OFFLINE, since=2000.0)
    assert [a.kind for a in rules.camera_status(2040.0, again)] == ["camera_offline"]


def test_alert_rows_match_the_alerts_table() -> None:
    from data.schemas import conform

    rules = AlertRules("cam", "Checkout 1", CONFIG)
    rows = rules.update(300.0, frame({3: "neutral"}), queue({3: 300.0}))
    table = conform("alerts", alerts_to_arrow(rows))
    assert table.num_rows == 1 and table.column("kind").to_pylist() == ["queue_wait"]
