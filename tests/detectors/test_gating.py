"""Detection gating (detectors/gating.py) and tracker prediction, on real frames and models.

The guard that matters: a person walking into an unchanged scene is detected within
``every_k`` frames of first being visible, even after the gate has skipped the still scene.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.detectors.gating import DetectionGate
from storelens.detectors.tracking import PersonTracker
from storelens.detectors.types import Detections

from tests.detectors.conftest import read_gif_frames


def _noisy(image: np.ndarray, seed: int, sigma: float = 3.0) -> np.ndarray:
    """The same scene with sensor-like noise: a still camera never repeats a frame exactly."""
    noise = np.random.default_rng(seed).normal(0, sigma, image.shape)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


GATE_TABLE = [
    # id, frames (each "still" / "moving"), every_k, still_max_skip, expected detect flags
    ("first frame always detects", ["still"], 2, 6, [True]),
    (
        "still scene: every still_max_skip",
        ["still"] * 13,
        2,
        6,
        [True] + ([False] * 5 + [True]) * 2,
    ),
    (
        "moving scene: every k-th",
        ["moving"] * 7,
        2,
        6,
        [True, False, True, False, True, False, True],
    ),
    ("k = 1 detects every moving frame", ["moving"] * 4, 1, 6, [True] * 4),
    (
        "motion after stillness is seen at once",
        ["still"] * 4 + ["moving"],
        2,
        6,
        [True] + [False] * 3 + [True],
    ),
]


@pytest.mark.parametrize(
    ("kinds", "every_k", "max_skip", "expected"),
    [c[1:] for c in GATE_TABLE],
    ids=[c[0] for c in GATE_TABLE],
)
def test_gate_rule(kinds, every_k, max_skip, expected, store_gif: Path) -> None:
    frames = read_gif_frames(store_gif, limit=60)
    still = frames[0]
    gate = DetectionGate(every_k=every_k, still_max_skip=max_skip)
    got = []
    for i, kind in enumerate(kinds):
        # "moving": frames far apart in a clip where shoppers walk.
        image = _noisy(still, i) if kind == "still" else frames[(i * 9) % len(frames)]
        got.append(gate.update(image))
    assert got == expected


def test_camera_resolution_change_is_looked_at(store_gif: Path) -> None:
    frame = read_gif_frames(store_gif, limit=1)[0]
    gate = DetectionGate(every_k=2, still_max_skip=12)
    assert gate.update(frame)
    # The same scene at a new size: tracked boxes are in the old pixels, so detect at once.
    assert gate.update(cv2.resize(frame, None, fx=2, fy=2)) is True
    assert gate.update(cv2.resize(frame, None, fx=2, fy=2)) is False


@pytest.fixture(scope="module")
def person_detector():
    from storelens.detectors.persons import PersonDetector

    return PersonDetector("openvino", 416)


def test_person_entering_a_still_scene_is_detected_within_the_bound(
    media_dir: Path, person_detector
) -> None:
    """A real still scene (classroom), then a real walking person (cut from another clip)
    appears at the edge: through the full pipeline, the gate must detect them within
    ``every_k`` frames although it skipped the still frames before."""
    from storelens.detectors.pipeline import CameraPipeline
    from storelens.detectors.shared_models import PipelineOptions, SharedModels
    from storelens.detectors.types import Frame
    from storelens.kernel.config import CameraConfig

    scene = read_gif_frames(media_dir / "classroom.gif", limit=1)[0]
    walker = read_gif_frames(media_dir / "face-demographics-walking.gif", limit=1)[0]
    found = person_detector.detect(walker)
    assert len(found), "the walking clip's first frame shows people"
    x1, y1, x2, y2 = (int(v) for v in found.xyxy[np.argmax(found.confidence)])
    person = walker[y1:y2, x1:x2]
    h, w = person.shape[:2]

    options = PipelineOptions(faces=False, workers=1, detect_every_k=2, still_max_skip=12)
    camera = CameraConfig(camera_id="gate", name="gate", source="unused")
    pipeline = CameraPipeline(camera, SharedModels(person=person_detector), options)
    fps = 12.5
    for i in range(10):  # the still scene: most of these frames must be skipped
        pipeline.analyse(Frame("gate", i / fps, i, _noisy(scene, i)))
    assert pipeline.gate.skipped >= 8

    entry = 10
    left = scene.shape[1] - w  # at the right edge, where nobody sits
    seen_at = None
    for i in range(entry, entry + 6):
        image = _noisy(scene, i)
        image[scene.shape[0] - h :, left:] = person
        result = pipeline.analyse(Frame("gate", i / fps, i, image))
        boxes = result.detections.xyxy
        hit = len(boxes) and np.any((boxes[:, 0] + boxes[:, 2]) / 2 > left)
        if hit and seen_at is None:
            seen_at = i
    assert seen_at is not None, "the person who walked in was never detected"
    assert seen_at - entry < options.detect_every_k


def test_prediction_follows_a_walking_person(media_dir: Path, person_detector) -> None:
    """face-demographics-walking.gif: the left person walks leftwards, about 3 px a frame."""
    frames = read_gif_frames(media_dir / "face-demographics-walking.gif", limit=12)
    tracker = PersonTracker(analysed_fps=6.25)
    last: Detections | None = None
    for image in frames[0:12:2]:  # every 2nd frame, as with detect_every_k = 2
        tracker.note_gap(2)
        last = tracker.update(person_detector.detect(image))
    assert last is not None and len(last) == 2
    walker = int(np.argmin((last.xyxy[:, 0] + last.xyxy[:, 2]) / 2))
    track_id = int(last.tracker_id[walker])
    predicted = tracker.predict(2)
    row = int(np.flatnonzero(predicted.tracker_id == track_id)[0])
    moved = (predicted.xyxy[row, 0] + predicted.xyxy[row, 2]) / 2 - (
        last.xyxy[walker, 0] + last.xyxy[walker, 2]
    ) / 2
    assert -12 < moved < -1, f"predicted step {moved:.1f} px; the person walks left ~3 px/frame"
    assert set(predicted.tracker_id.tolist()) == set(last.tracker_id.tolist())
