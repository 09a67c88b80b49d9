"""The learned valence reader: registry, accuracy on people it never saw, abstention, CLI.

Real parts: the shipped head through the registry, the real YOLO expression trunk
(OpenVINO), MediaPipe's landmarker and YuNet, on real labelled photos from
``../shared/expressions``. The accuracy floors come from the person-disjoint
cross-validation printed by ``scripts/train_valence.py`` (README, "Expression
model") minus a margin for the small slice: they fail if the head, the feature
order, the trunk or the valence mapping breaks (a head that reads everything
neutral scores 33 % balanced accuracy; one with shuffled inputs, about that too).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.detectors.errors import ModelHashMismatch
from storelens.detectors.expression_readers import (
    MIN_FACE_PX,
    LearnedValenceReader,
    make_expression_reader,
)
from storelens.detectors.faces import YuNetFaceDetector
from storelens.detectors.offline.evaluation import (
    LabelledImage,
    LabelsError,
    evaluate_images,
    is_holdout_person,
    read_labels,
    valence_of,
)
from storelens.detectors.registry import resolve_model
from storelens.detectors.types import Valence
from storelens.detectors.valence import ValenceHead, load_valence_head
from storelens.kernel.paths import shared_dir
from typer.testing import CliRunner

EXPRESSIONS = shared_dir() / "expressions"
needs_faces = pytest.mark.skipif(
    not (EXPRESSIONS / "labels.csv").is_file(),
    reason="../shared/expressions is absent (CI always has it)",
)

# Floors set from the cross-validation (see module docstring); the held-out slice
# is ~200 faces of ~110 persons, so a few points below the CV means.
FLOOR_BALANCED_ACCURACY = 0.68
FLOOR_COVERAGE = 0.85
FLOOR_FRUSTRATED_RECALL = 0.50  # issue 17 head: 14 of 26 (53.8 %); CV 71.1 %
CEILING_FALSE_FRUSTRATED = 0.20


@pytest.fixture(scope="module")
def reader() -> LearnedValenceReader:
    with LearnedValenceReader() as r:
        yield r


@pytest.fixture(scope="module")
def detector() -> YuNetFaceDetector:
    return YuNetFaceDetector()


def test_head_is_a_registry_model_of_plain_arrays():
    path = resolve_model("valence-head")  # hash-checked
    with np.load(path, allow_pickle=False) as arrays:  # no pickle: loading runs no code
        assert all(arrays[k].dtype != object for k in arrays.files)
    head = load_valence_head()
    assert isinstance(head, ValenceHead)
    assert 0.34 <= head.abstain_below < 1.0 and head.temperature > 0
    x = np.zeros((4, len(head.feature_names)), np.float32)
    probs = head.probabilities(x)
    assert probs.shape == (4, 3)
    assert np.allclose(probs.sum(axis=1), 1.0)


def test_a_head_with_the_wrong_hash_is_refused(tmp_path: Path, monkeypatch):
    tampered = tmp_path / "valence_head.npz"
    shutil.copy(resolve_model("valence-head"), tampered)
    data = bytearray(tampered.read_bytes())
    data[-10] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(ModelHashMismatch, match="NOT loaded"):
        resolve_model("valence-head", tampered)
    # Dropped in the model folder, it is refused too (never silently used).
    monkeypatch.setenv("STORELENS_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelHashMismatch):
        LearnedValenceReader()


@needs_faces
def test_accuracy_on_held_out_persons_through_the_product_path(reader, detector):
    labels = [
        row
        for row in read_labels(EXPRESSIONS / "labels.csv")
        if row.person and is_holdout_person(row.person)
    ]
    assert len(labels) >= 150, "the held-out slice is the test's whole point"
    result = evaluate_images(labels, EXPRESSIONS / "images", detector, reader)
    m = result["metrics"]
    assert m["coverage"] >= FLOOR_COVERAGE, m
    assert m["balanced_valence_accuracy"] >= FLOOR_BALANCED_ACCURACY, m
    assert m["recall"]["frustrated"] >= FLOOR_FRUSTRATED_RECALL, m
    assert m["false_frustrated_rate"] <= CEILING_FALSE_FRUSTRATED, m
    # Calibrated: confident answers are right more often than unsure ones.
    answered = [p for p in result["predictions"] if p["valence"] != "unknown"]
    confident = [p for p in answered if p["confidence"] >= 0.7]
    unsure = [p for p in answered if p["confidence"] < 0.55]
    assert confident and unsure
    hit = lambda ps: sum(p["valence"] == p["truth"] for p in ps) / len(ps)  # noqa: E731
    assert hit(confident) > hit(unsure) + 0.1


@needs_faces
def test_faces_below_the_size_floor_are_not_read(reader, detector):
    image = cv2.imread(str(EXPRESSIONS / "images" / "Aaron_Peirsol_0002.jpg"))
    assert image is not None
    big = reader.read(image, np.array([60, 40, 290, 330], np.float32))
    assert big.readable and big.valence is Valence.SATISFIED  # a broad smile
    small = reader.read(image, np.array([10, 10, 10 + MIN_FACE_PX - 2, 10 + MIN_FACE_PX - 1]))
    assert small.valence is Valence.UNKNOWN
    assert "face_too_small" in small.scores


def test_probabilities_land_in_scores_for_expected_counts(reader):
    image = cv2.imread(str(EXPRESSIONS / "images" / "Aaron_Peirsol_0002.jpg"))
    if image is None:
        pytest.skip("../shared/expressions is absent (CI always has it)")
    reading = reader.read(image, np.array([60, 40, 290, 330], np.float32))
    probs = [reading.scores[k] for k in ("p_satisfied", "p_neutral", "p_frustrated")]
    assert sum(probs) == pytest.approx(1.0, abs=1e-3)
    assert reading.confidence == pytest.approx(max(probs), abs=1e-3)


@pytest.mark.parametrize(
    ("label", "valence"),
    [
        ("happiness", Valence.SATISFIED),
        ("happy", Valence.SATISFIED),
        ("neutral", Valence.NEUTRAL),
        ("surprise", Valence.NEUTRAL),
        ("anger", Valence.FRUSTRATED),
        ("contempt", Valence.FRUSTRATED),
        ("disgust", Valence.FRUSTRATED),
        ("fear", Valence.FRUSTRATED),
        ("sadness", Valence.FRUSTRATED),
        ("Frustrated", Valence.FRUSTRATED),
    ],
)
def test_the_fixed_valence_mapping(label, valence):
    assert valence_of(label) is valence


def test_unknown_labels_and_bad_files_name_the_row_and_fix(tmp_path: Path):
    with pytest.raises(LabelsError, match="bored"):
        valence_of("bored")
    bad = tmp_path / "labels.csv"
    bad.write_text("image,emotion\na.jpg,happiness\nb.jpg,bored\n")
    with pytest.raises(LabelsError, match=r"line 3: unknown label 'bored'"):
        read_labels(bad)
    bad.write_text("picture,mood\na.jpg,happy\n")
    with pytest.raises(LabelsError, match="needs a header with 'image'"):
        read_labels(bad)


def test_the_default_reader_is_the_learned_head_and_old_ones_stay_selectable():
    with make_expression_reader() as default:
        assert default.name == "valence-head"
    with make_expression_reader("mediapipe") as old:
        assert old.name == "mediapipe-blendshapes"


@needs_faces
def test_evaluate_expressions_json_has_every_field(tmp_path: Path):
    from storelens.app.cli import app

    rows = [
        LabelledImage("Aaron_Peirsol_0002.jpg", Valence.SATISFIED, "happiness"),
        LabelledImage("Abdoulaye_Wade_0001.jpg", Valence.NEUTRAL, "neutral"),
    ]
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "image,emotion\n" + "".join(f"{r.image},{r.emotion}\n" for r in rows), encoding="utf-8"
    )
    result = CliRunner().invoke(
        app,
        ["evaluate", "expressions", str(labels), "--images", str(EXPRESSIONS / "images"), "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert [p["image"] for p in out["predictions"]] == [r.image for r in rows]
    for p in out["predictions"]:
        assert set(p) >= {"image", "truth", "valence", "label", "confidence"}
        assert p["truth"] in ("satisfied", "neutral")
    m = out["metrics"]
    assert set(m) >= {
        "coverage",
        "balanced_valence_accuracy",
        "recall",
        "false_frustrated_rate",
        "ms_per_face",
    }
    assert set(m["recall"]) == {"satisfied", "neutral", "frustrated"}
    assert m["ms_per_face"] > 0
    assert set(out["confusion"]) == {"satisfied", "neutral", "frustrated"}
    assert sum(sum(v.values()) for v in out["confusion"].values()) == len(rows)


@needs_faces
def test_evaluate_names_a_missing_image_and_a_bad_labels_file(tmp_path: Path):
    from storelens.app.cli import app

    labels = tmp_path / "labels.csv"
    labels.write_text("image,valence\nno_such_face.jpg,neutral\n")
    result = CliRunner().invoke(
        app, ["evaluate", "expressions", str(labels), "--images", str(EXPRESSIONS / "images")]
    )
    assert result.exit_code == 2
    assert "no_such_face.jpg" in result.output
    labels.write_text("image,emotion\na.jpg,ecstatic\n")
    result = CliRunner().invoke(
        app, ["evaluate", "expressions", str(labels), "--images", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "line 2" in result.output and "ecstatic" in result.output
