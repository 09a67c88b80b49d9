"""Real YOLO inference on real images, through the exported OpenVINO model and PyTorch."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.detectors.persons import PersonDetector, prepare_person_model
from storelens.detectors.tracking import PersonTracker


@pytest.fixture(scope="module")
def openvino_detector() -> PersonDetector:
    return PersonDetector("openvino", 416)


def test_prepare_is_idempotent() -> None:
    first = prepare_person_model("openvino", 416)
    mtime = first.stat().st_mtime
    second = prepare_person_model("openvino", 416)
    assert first == second and second.stat().st_mtime == mtime


@pytest.mark.parametrize("backend", ["openvino", "torch"])
def test_bus_has_at_least_three_people(
    backend: str, ultralytics_assets: Path, openvino_detector
) -> None:
    detector = openvino_detector if backend == "openvino" else PersonDetector("torch", 416)
    dets = detector.detect(cv2.imread(str(ultralytics_assets / "bus.jpg")))
    assert len(dets) >= 3
    assert set(dets.class_id.tolist()) == {0}
    assert (dets.confidence >= 0.35).all()
    # Boxes are in full-image pixels (bus.jpg is 810x1080), not in model input pixels.
    assert dets.xyxy[:, 3].max() > 700


def test_tracker_keeps_ids_across_frames_of_a_real_clip(
    shared_media: Path, openvino_detector
) -> None:
    cap = cv2.VideoCapture(str(shared_media / "store-aisle-detection.gif"))
    tracker = PersonTracker(analysed_fps=10)
    seen: list[set[int]] = []
    for _ in range(20):
        ok, frame = cap.read()
        assert ok
        dets = tracker.update(openvino_detector.detect(frame))
        seen.append({int(t) for t in dets.tracker_id if t >= 0})
    cap.release()
    # Consecutive frames of a walking shopper share ids (a tracker that re-numbered every frame fails).
    overlaps = [len(a & b) for a, b in itertools.pairwise(seen[5:])]
    assert np.mean(overlaps) >= 1
    assert len(set().union(*seen)) < sum(len(s) for s in seen)
