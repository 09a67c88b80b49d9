"""Faces inside person boxes and expression readings, with real models on real frames.

Labels: tests/data_faces/labels.csv (hand-labelled by looking at the crops; the
pictures stay in ../shared/media and inside installed wheels). The accuracy
thresholds below come from benchmarks/bench_expressions.py's measured numbers.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")

from storelens.detectors.expression_readers import (
    MIN_FACE_PX,
    BlendshapeReader,
    LearnedValenceReader,
    YoloExpressionReader,
    classify_blendshapes,
    make_expression_reader,
)
from storelens.detectors.expressions import (
    ExpressionReading,
    ExpressionScheduler,
    ExpressionSmoother,
    annotate_expressions,
    read_faces_in_image,
)
from storelens.detectors.faces import (
    FACE_COLUMN,
    detect_faces_full_frame,
    head_regions,
    make_face_detector,
)
from storelens.detectors.registry import resolve_model
from storelens.detectors.types import NO_TRACK, Detections, Valence

REPO = Path(__file__).resolve().parents[2]
HEAD_POSE = "head-pose-face-detection-female-and-male.gif"


def _load_bench():
    spec = importlib.util.spec_from_file_location(
        "bench_expressions", REPO / "benchmarks" / "bench_expressions.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def labelled(media_dir: Path):
    faces, images, missing = bench.load_labelled_faces()
    if not any(f.source.startswith("shared/") for f in faces):
        pytest.skip("no labelled faces from ../shared/media could be loaded")
    return faces, images, missing


@pytest.fixture(scope="module")
def person_model():
    from ultralytics import YOLO

    return YOLO(str(resolve_model("yolo11n-person")))


@pytest.fixture(scope="module")
def find_persons(person_model) -> Callable[[np.ndarray], Detections]:
    def run(image: np.ndarray) -> Detections:
        result = person_model.predict(image, classes=[0], conf=0.3, imgsz=640, verbose=False)[0]
        xyxy = result.boxes.xyxy.cpu().numpy()
        return Detections(xyxy, result.boxes.conf.cpu().numpy(), np.zeros(len(xyxy)))

    return run


@pytest.fixture(scope="module")
def zidane() -> np.ndarray:
    path = bench.source_path("ultralytics/assets/zidane.jpg")
    if path is None or not path.exists():
        pytest.skip("ultralytics/assets/zidane.jpg not found (is ultralytics installed?)")
    return cv2.imread(str(path))


@pytest.fixture(scope="module")
def head_pose_frames(media_dir: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(media_dir / HEAD_POSE))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    assert len(frames) == 56, f"{HEAD_POSE}: expected 56 frames, read {len(frames)}"
    return frames


@pytest.fixture(scope="module", params=["yunet", "mediapipe"])
def face_detector(request) -> Iterator:
    detector = make_face_detector(request.param)
    yield detector
    detector.close()


@pytest.fixture(scope="module")
def blendshapes() -> Iterator[BlendshapeReader]:
    with BlendshapeReader() as reader:
        yield reader


@pytest.fixture(scope="module")
def learned() -> Iterator[LearnedValenceReader]:
    with LearnedValenceReader() as reader:
        yield reader


@pytest.fixture(scope="module")
def yolo_reader() -> Iterator[YoloExpressionReader]:
    with YoloExpressionReader() as reader:
        yield reader


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def label_boxes(labelled, source_suffix: str, frame: int) -> list[np.ndarray]:
    faces, _, _ = labelled
    return [f.box for f in faces if f.source.endswith(source_suffix) and f.frame == frame]


def reading(valence: Valence, confidence: float = 0.8, label: str = "x") -> ExpressionReading:
    return ExpressionReading(label, valence, confidence, {}, "test")


# --------------------------------------------------------------------------- faces


def test_zidane_faces_are_found_and_tied_to_their_person(
    face_detector, find_persons, zidane, labelled
):
    persons = find_persons(zidane)
    assert len(persons) == 2, "the person model should see Zidane and Ancelotti"
    out = face_detector.detect(zidane, persons)
    faces = out.data[FACE_COLUMN]
    assert faces.shape == (2, 4) and faces.dtype == np.float32
    assert np.isfinite(faces).all(), f"{face_detector.name} missed a face: {faces}"
    for face, person in zip(faces, out.xyxy, strict=True):
        cx, cy = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2
        assert person[0] <= cx <= person[2] and person[1] - 20 <= cy <= person[1] + 0.5 * (
            person[3] - person[1]
        )
    expected = label_boxes(labelled, "zidane.jpg", 0)
    for face in faces:
        # 0.3: BlazeFace draws a looser box than the labels (from YuNet, checked by eye)
        # around Zidane's open mouth (measured IoU 0.37); a wrong face scores 0.
        assert max(iou(face, e) for e in expected) >= 0.3, f"{face} matches no labelled face"
    # Reversing the persons reverses the faces: each face follows its own person.
    reversed_out = face_detector.detect(zidane, find_persons(zidane)[np.array([1, 0])])
    np.testing.assert_allclose(reversed_out.data[FACE_COLUMN], faces[::-1], atol=1.0)


@pytest.mark.parametrize("frame", [0, 15, 30, 45, 55])
def test_head_pose_faces_found_in_both_people(
    face_detector, find_persons, head_pose_frames, labelled, frame
):
    image = head_pose_frames[frame]
    persons = find_persons(image)
    assert len(persons) == 2
    faces = face_detector.detect(image, persons).data[FACE_COLUMN]
    assert np.isfinite(faces).all(), f"{face_detector.name} missed a face in frame {frame}: {faces}"
    for face, person in zip(faces, persons.xyxy, strict=True):
        assert person[0] <= (face[0] + face[2]) / 2 <= person[2], "face tied to the wrong person"
    expected = label_boxes(labelled, HEAD_POSE, frame)
    if expected:  # labels exist for every 5th frame
        for face in faces:
            assert max(iou(face, e) for e in expected) >= 0.4


def test_no_persons_gives_empty_face_column(face_detector, zidane):
    out = face_detector.detect(zidane, Detections.empty())
    assert len(out) == 0 and out.data[FACE_COLUMN].shape == (0, 4)


def test_person_box_on_a_bare_wall_has_no_face(face_detector, head_pose_frames):
    wall = Detections(np.array([[410, 5, 478, 200]]), np.ones(1), np.zeros(1))
    faces = face_detector.detect(head_pose_frames[0], wall).data[FACE_COLUMN]
    assert np.isnan(faces).all()


def test_one_face_is_never_claimed_by_two_overlapping_persons(face_detector, find_persons, zidane):
    persons = find_persons(zidane)
    twice = persons[np.array([0, 0])]
    faces = face_detector.detect(zidane, twice).data[FACE_COLUMN]
    assert np.isfinite(faces[:, 0]).sum() == 1


def test_head_region_keeps_the_whole_head_of_close_ups_and_the_top_of_walkers():
    regions = head_regions(np.array([[0, 0, 100, 300], [0, 0, 200, 220]]), (1000, 1000, 3))
    standing, close_up = regions
    assert standing[3] <= 0.4 * 300 * 1.2 + 1  # top 40 % (+ padding) of a standing person
    assert close_up[3] >= 200  # a head-and-shoulders box is searched almost whole


def test_full_frame_detection_for_the_cli(zidane, head_pose_frames):
    assert len(detect_faces_full_frame(zidane)) == 2
    assert len(detect_faces_full_frame(head_pose_frames[20])) == 2


def test_cli_reading_of_a_still_image(zidane, blendshapes):
    detector = make_face_detector("yunet")
    faces = read_faces_in_image(zidane, detector, blendshapes)
    assert len(faces) == 2
    for face in faces:
        assert set(face) == {"box", "label", "valence", "confidence"}
        assert face["valence"] in {"satisfied", "neutral", "frustrated", "unknown"}
        assert len(face["box"]) == 4
    # Labels: Ancelotti (right) calm → neutral; Zidane's near-profile shout → the
    # landmarker finds no landmarks → unknown (an abstention, not a guess).
    by_x = sorted(faces, key=lambda f: f["box"][0])
    assert [f["valence"] for f in by_x] == ["unknown", "neutral"]


def test_yolo_face_backend_returns_a_box_inside_each_person(find_persons, head_pose_frames):
    detector = make_face_detector("yolo-face")
    image = head_pose_frames[0]
    persons = find_persons(image)
    faces = detector.detect(image, persons).data[FACE_COLUMN]
    assert np.isfinite(faces).all()
    regions = head_regions(persons.xyxy, image.shape)
    assert (faces[:, 1] >= regions[:, 1] - 1).all() and (faces[:, 3] <= regions[:, 3] + 1).all()


def test_unknown_backend_names_are_errors():
    with pytest.raises(ValueError, match="yunet"):
        make_face_detector("haar")
    with pytest.raises(ValueError, match="mediapipe-blendshapes"):
        make_expression_reader("fer")


# --------------------------------------------------------------------------- readers


@pytest.mark.parametrize(
    ("shapes", "valence", "label"),
    [
        ({"mouthSmileLeft": 0.8, "mouthSmileRight": 0.8}, Valence.SATISFIED, "happy"),
        ({"browDownLeft": 0.7, "browDownRight": 0.7}, Valence.FRUSTRATED, "brow_down"),
        ({"mouthFrownLeft": 0.5, "mouthFrownRight": 0.5}, Valence.FRUSTRATED, "frown"),
        ({"jawOpen": 0.8}, Valence.NEUTRAL, "surprise"),
        ({}, Valence.NEUTRAL, "neutral"),
        ({"mouthSmileLeft": 0.3, "mouthSmileRight": 0.3}, Valence.NEUTRAL, "neutral"),
    ],
)
def test_blendshape_rule(shapes, valence, label):
    result = classify_blendshapes(shapes)
    assert (result.valence, result.label) == (valence, label)
    assert 0.0 <= result.confidence <= 1.0


def test_near_threshold_cues_get_low_confidence():
    clear = classify_blendshapes({"mouthSmileLeft": 0.95, "mouthSmileRight": 0.95})
    barely = classify_blendshapes({"mouthSmileLeft": 0.51, "mouthSmileRight": 0.51})
    assert clear.confidence > barely.confidence


@pytest.mark.parametrize(
    "reader_name", ["valence-head", "mediapipe-blendshapes", "yolo-expression"]
)
def test_tiny_faces_are_unknown(
    reader_name, learned, blendshapes, yolo_reader, head_pose_frames, labelled
):
    reader = {
        "valence-head": learned,
        "mediapipe-blendshapes": blendshapes,
        "yolo-expression": yolo_reader,
    }[reader_name]
    image = head_pose_frames[20]
    for box in label_boxes(labelled, HEAD_POSE, 20):
        small, small_box = bench.downscaled(image, box, MIN_FACE_PX - 8)
        result = reader.read(small, small_box)
        assert result.valence is Valence.UNKNOWN and "face_too_small" in result.scores
    faces, images, _ = labelled
    tiny = [f for f in faces if f.label == "unreadable"]
    assert tiny, "labels.csv should hold unreadable (tiny) faces"
    for face in tiny:
        assert reader.read(images[(face.source, face.frame)], face.box).valence is Valence.UNKNOWN


def test_low_confidence_and_missing_faces_are_unknown(head_pose_frames, labelled):
    box = label_boxes(labelled, HEAD_POSE, 20)[0]
    with BlendshapeReader(min_confidence=1.01) as picky:
        result = picky.read(head_pose_frames[20], box)
    assert result.valence is Valence.UNKNOWN and "low_confidence" in result.scores
    with BlendshapeReader() as reader:
        assert reader.read(head_pose_frames[20], np.full(4, np.nan)).valence is Valence.UNKNOWN


def _agreement(reader, faces, images, clarity: str = "clear") -> tuple[int, int, list]:
    results = []
    for face in faces:
        if face.readable and face.clarity == clarity:
            results.append((face, reader.read(images[(face.source, face.frame)], face.box)))
    agree = sum(str(r.valence) == f.label for f, r in results)
    return agree, len(results), results


def test_default_reader_agrees_with_my_labels(blendshapes, labelled):
    """Thresholds from the measured run (benchmarks/bench_expressions.py, see the
    module docstring of detectors/expression_readers.py): 26/27 clear faces without
    scikit-image (the miss is an abstention on a near-profile), 27/28 with it.

    'Always neutral' would also score 26/27 here, because the footage is mostly
    calm faces. So the test also demands what that trivial reader cannot do:
    no expressive reading on any clear neutral face, no satisfied<->frustrated
    swap, abstention on every unreadable face, and the one clear smile read as
    satisfied where its picture is installed.
    """
    faces, images, _ = labelled
    agree, total, results = _agreement(blendshapes, faces, images)
    assert total >= 20
    assert agree / total >= 0.9, f"agreement {agree}/{total}"
    false_alarms = [
        f
        for f, r in results
        if f.label == "neutral" and r.valence not in (Valence.NEUTRAL, Valence.UNKNOWN)
    ]
    assert not false_alarms
    swapped = [f for f, r in results if {f.label, str(r.valence)} == {"satisfied", "frustrated"}]
    assert not swapped
    unreadable = [f for f in faces if f.label == "unreadable"]
    assert all(
        blendshapes.read(images[(f.source, f.frame)], f.box).valence is Valence.UNKNOWN
        for f in unreadable
    )


def test_the_learned_default_on_the_hand_labelled_camera_faces(learned, labelled):
    """The issue-9 head on the hand-labelled faces: the clear smile reads satisfied, the
    clear shout frustrated, no clear face swaps satisfied and frustrated, and every
    unreadable face is abstained on."""
    faces, images, missing = labelled
    _, total, results = _agreement(learned, faces, images)
    assert total >= 20
    assert not [f for f, r in results if {f.label, str(r.valence)} == {"satisfied", "frustrated"}]
    shout = [r for f, r in results if f.label == "frustrated"]
    assert shout and shout[0].valence is Valence.FRUSTRATED
    for face in (f for f in faces if f.label == "unreadable"):
        assert learned.read(images[(face.source, face.frame)], face.box).valence is Valence.UNKNOWN
    smiles = [f for f in faces if f.label == "satisfied" and f.clarity == "clear"]
    if not smiles:
        pytest.skip(f"the clear smile's picture is not installed (missing: {missing})")
    for face in smiles:
        result = learned.read(images[(face.source, face.frame)], face.box)
        assert result.valence is Valence.SATISFIED, f"{face.source}: {result}"


# The calm-camera-faces check that was a strict xfail here (issue 9's known limit) now
# passes through the product path: tests/detectors/test_camera_expressions.py,
# test_the_learned_default_raises_no_false_alarm_on_calm_camera_faces.


def test_the_clear_smile_reads_satisfied(blendshapes, labelled):
    faces, images, missing = labelled
    smiles = [f for f in faces if f.label == "satisfied" and f.clarity == "clear"]
    if not smiles:
        pytest.skip(
            f"the clear smile's picture is not installed (missing: {missing}); pip install scikit-image"
        )
    for face in smiles:
        result = blendshapes.read(images[(face.source, face.frame)], face.box)
        assert result.valence is Valence.SATISFIED, f"{face.source}: {result}"


def test_yolo_reader_reads_the_shout_and_keeps_most_calm_faces_neutral(yolo_reader, labelled):
    """Measured: the shout is read Anger (frustrated); 26 of 28 neutral faces are read
    neutral once Sad maps to neutral (Contempt on one calm face, Disgust on another)."""
    faces, images, _ = labelled
    _, _, results = _agreement(yolo_reader, faces, images)
    shout = [r for f, r in results if f.label == "frustrated"]
    assert shout and shout[0].valence is Valence.FRUSTRATED
    neutral = [r for f, r in results if f.label == "neutral"]
    assert sum(r.valence is Valence.NEUTRAL for r in neutral) >= 0.8 * len(neutral)


def test_a_mirrored_face_keeps_its_reading(blendshapes, labelled):
    faces, images, _ = labelled
    checked = 0
    for face in faces:
        if not face.readable:
            continue
        image = images[(face.source, face.frame)]
        original = blendshapes.read(image, face.box)
        if not original.readable:
            continue
        mirrored = blendshapes.read(*bench.flipped(image, face.box))
        assert mirrored.valence is original.valence, face
        checked += 1
    assert checked >= 20


# --------------------------------------------------------------------------- smoothing, scheduling


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([Valence.SATISFIED], Valence.UNKNOWN),  # one reading is never enough
        ([Valence.SATISFIED, Valence.SATISFIED], Valence.SATISFIED),
        ([Valence.SATISFIED, Valence.FRUSTRATED], Valence.UNKNOWN),  # no agreement
        (
            [Valence.SATISFIED, Valence.UNKNOWN, Valence.SATISFIED],
            Valence.SATISFIED,
        ),  # abstentions don't vote
        ([Valence.NEUTRAL, Valence.NEUTRAL, Valence.FRUSTRATED], Valence.NEUTRAL),
        (
            [Valence.NEUTRAL, Valence.FRUSTRATED, Valence.FRUSTRATED, Valence.NEUTRAL],
            Valence.UNKNOWN,
        ),
        ([Valence.UNKNOWN, Valence.UNKNOWN, Valence.UNKNOWN], Valence.UNKNOWN),
    ],
)
def test_smoother_needs_agreement(history, expected):
    smoother = ExpressionSmoother()
    result = None
    for valence in history:
        result = smoother.update(7, reading(valence))
    assert result is not None and result.valence is expected


def test_smoother_window_forget_and_tracks_are_separate():
    smoother = ExpressionSmoother(window=3)
    for _ in range(3):
        smoother.update(1, reading(Valence.FRUSTRATED))
    for _ in range(3):
        result = smoother.update(1, reading(Valence.SATISFIED))
    assert result.valence is Valence.SATISFIED  # old frustrated readings left the window
    assert (
        smoother.update(2, reading(Valence.NEUTRAL)).valence is Valence.UNKNOWN
    )  # track 2 starts fresh
    smoother.forget(1)
    assert smoother.current(1) is None
    assert smoother.update(1, reading(Valence.SATISFIED)).valence is Valence.UNKNOWN
    smoother.retain([2])
    assert smoother.current(1) is None and smoother.current(2) is not None


def test_confident_readings_outvote_unsure_ones():
    smoother = ExpressionSmoother(window=5, min_share=0.6)
    for conf, valence in [
        (0.9, Valence.SATISFIED),
        (0.2, Valence.NEUTRAL),
        (0.9, Valence.SATISFIED),
    ]:
        result = smoother.update(3, reading(valence, conf))
    assert result.valence is Valence.SATISFIED


def test_scheduler_reads_every_kth_frame_and_never_staff_or_untracked():
    scheduler = ExpressionScheduler(every_k=3)
    ids = np.array([1, 2, NO_TRACK])
    staff = np.array([False, True, False])
    reads = np.array([scheduler.should_read(ids, staff) for _ in range(7)])
    assert reads[:, 0].tolist() == [True, False, False, True, False, False, True]
    assert not reads[:, 1].any(), "a track in a staff zone was read"
    assert not reads[:, 2].any(), "an untracked detection was read"
    with pytest.raises(ValueError):
        scheduler.should_read(ids, np.array([True]))
    with pytest.raises(ValueError):
        ExpressionScheduler(every_k=0)


def test_annotate_expressions_on_real_frames_with_a_staff_zone(
    find_persons, head_pose_frames, blendshapes
):
    detector = make_face_detector("yunet")
    scheduler = ExpressionScheduler(every_k=2)
    smoother = ExpressionSmoother()
    calls = []

    class CountingReader:
        name = blendshapes.name

        def read(self, image, face_xyxy):
            calls.append(face_xyxy.copy())
            return blendshapes.read(image, face_xyxy)

        def close(self) -> None:
            pass

    for index in range(0, 10):
        image = head_pose_frames[index]
        persons = find_persons(image)
        persons.tracker_id = np.where(persons.xyxy[:, 0] < 200, 1, 2).astype(
            np.int64
        )  # 1: woman (left)
        persons = detector.detect(image, persons)
        staff = persons.tracker_id == 2  # the man stands behind the counter
        due = scheduler.should_read(persons.tracker_id, staff)
        out, made = annotate_expressions(
            image, persons, CountingReader(), smoother, should_read=due
        )
        assert {m.track_id for m in made} <= {1}
        for column in ("expression", "valence", "expression_confidence"):
            assert len(out.data[column]) == len(out)
        assert out.data["expression_confidence"].dtype == np.float32
        assert (out.data["valence"][out.tracker_id == 2] == "unknown").all()
        for track_id, smoothed in made:  # unpacks as (track_id, reading)
            assert isinstance(smoothed, ExpressionReading) and track_id == 1
    assert len(calls) == 5  # frames 0, 2, 4, 6, 8 for the woman; never the man
    woman = out.data["valence"][out.tracker_id == 1]
    assert woman.tolist() == ["neutral"], "five calm readings should smooth to neutral"


def test_annotate_expressions_needs_faces_and_matching_mask(zidane, blendshapes):
    persons = Detections(np.array([[0, 0, 10, 10]]), np.ones(1), np.zeros(1))
    with pytest.raises(ValueError, match="face_xyxy"):
        annotate_expressions(zidane, persons, blendshapes, None, should_read=np.ones(1, bool))
    persons.data[FACE_COLUMN] = np.full((1, 4), np.nan, np.float32)
    with pytest.raises(ValueError, match="should_read"):
        annotate_expressions(zidane, persons, blendshapes, None, should_read=np.ones(2, bool))
