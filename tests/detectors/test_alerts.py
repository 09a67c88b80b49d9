"""Alert rules as tables of synthetic frames: no video, no models."""

from __future__ import annotations

import numpy as np
import pytest
from storelens.detectors.alerts import AlertRules
from storelens.detectors.events import EngineState
from storelens.detectors.types import CameraState, CameraStatus, Detections
from storelens.kernel.config import AlertsConfig

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
    assert [a.kind for a in first] == ["camera_offline"]
    # a category, not the (masked) source and error: issue 18, item 11
    assert first[0].detail == "Entrance: camera offline for 0:31 min (cannot open the source)"
    assert rules.camera_status(1090.0, down) == []
    assert rules.camera_status(1100.0, CameraStatus("cam", state=CameraState.ONLINE)) == []
    again = CameraStatus("cam", state=CameraState.OFFLINE, since=2000.0)
    assert [a.kind for a in rules.camera_status(2040.0, again)] == ["camera_offline"]


def test_alert_rows_match_the_alerts_table() -> None:
    from storelens.data.schemas import conform
    from storelens.data.sink import BATCH_SCHEMAS, to_arrow

    rules = AlertRules("cam", "Checkout 1", CONFIG, {"checkout": "queue"})
    rows = rules.update(300.0, frame({3: "neutral"}), queue({3: 300.0}))
    table = conform("alerts", to_arrow(rows, BATCH_SCHEMAS["alerts"]))
    assert table.num_rows == 1 and table.column("kind").to_pylist() == ["queue_wait"]
    # The zone's name and kind travel with the alert: staff's title is built from them.
    assert table.select(["zone", "zone_kind"]).to_pylist() == [
        {"zone": "checkout", "zone_kind": "queue"}
    ]


def _run(rules: AlertRules, steps: list[tuple[float, dict[str, dict[int, float]]]]) -> list:
    out = []
    for ts, zones in steps:
        ids = [tid for waits in zones.values() for tid in waits]
        dets = frame({tid: "neutral" for tid in ids})
        out += [
            (ts, a.kind, a.detail) for a in rules.update(ts, dets, EngineState(queue_waits=zones))
        ]
    return out


def test_a_busy_queue_is_one_alert_while_it_lasts() -> None:
    """Issue 10, item 8: shopper after shopper crossing 4 minutes in the same queue gave an
    identical alert every ~4 minutes. One per (camera, zone, kind) while it lasts."""
    rules = AlertRules("cam", "Checkout", CONFIG)
    steps = []
    # Six shoppers one after another, each waiting 4:10 min; someone else is always queued
    # behind, so the queue never empties (between two shoppers over 4 minutes there are
    # 4 minutes with nobody over the threshold: that gap was what re-alerted).
    for n in range(6):
        for t in range(0, 260, 10):
            steps.append((n * 250.0 + t, {"checkout": {n + 1: float(t), n + 100: 5.0}}))
    alerts = _run(rules, steps)
    assert [a[1] for a in alerts] == ["queue_wait"], alerts


def test_another_zone_or_kind_alerts_on_its_own() -> None:
    rules = AlertRules("cam", "Checkout", CONFIG)
    alerts = _run(
        rules,
        [(0.0, {"checkout": {1: 250.0}}), (1.0, {"checkout": {1: 251.0}, "queue2": {2: 245.0}})],
    )
    assert [(a[1], a[2].split(" · ")[1].split(":")[0]) for a in alerts] == [
        ("queue_wait", "checkout"),
        ("queue_wait", "queue2"),
    ]


def test_a_zone_alerts_again_after_it_was_quiet() -> None:
    rules = AlertRules("cam", "Checkout", CONFIG)
    first = _run(rules, [(0.0, {"checkout": {1: 250.0}}), (10.0, {"checkout": {}})])
    # The queue empty for less than the re-arm time (60 s): still the same situation.
    soon = _run(rules, [(50.0, {"checkout": {2: 250.0}})])
    # Empty for longer: a new situation, a new alert.
    later = _run(rules, [(60.0, {"checkout": {}}), (130.0, {"checkout": {3: 250.0}})])
    assert (len(first), len(soon), len(later)) == (1, 0, 1)
