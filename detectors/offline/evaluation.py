"""Measuring an expression reader on labelled faces: labels, the product path, metrics.

Used by ``storelens evaluate expressions LABELS.csv --images DIR`` (integrators
check StoreLens on their own labelled faces) and by ``scripts/train_valence.py``
(the development set). Both read faces exactly as the product does: the face
detector finds the face, the reader reads it with its own gates, so a face the
detector misses or the reader abstains on counts against *coverage*, never as
right or wrong.

Valence of the eight emotion names is fixed, so every number means the same:
satisfied = happiness; neutral = neutral, surprise; frustrated = anger,
contempt, disgust, fear, sadness.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from storelens.detectors.photo import faces_in_photo, largest_face
from storelens.detectors.types import UNKNOWN_LABEL, VALENCES, Valence

EMOTION_VALENCE: dict[str, Valence] = {
    "happiness": Valence.SATISFIED,
    "neutral": Valence.NEUTRAL,
    "surprise": Valence.NEUTRAL,
    "anger": Valence.FRUSTRATED,
    "contempt": Valence.FRUSTRATED,
    "disgust": Valence.FRUSTRATED,
    "fear": Valence.FRUSTRATED,
    "sadness": Valence.FRUSTRATED,
}
# Common spellings integrators' label files use for the same eight emotions.
EMOTION_ALIASES = {
    "happy": "happiness",
    "sad": "sadness",
    "angry": "anger",
    "surprised": "surprise",
}
# Tight photo crops give the face detector no context; a frame around them does.


class LabelsError(ValueError):
    """A labels file is unusable; the message names the file, row and fix."""


@dataclass(frozen=True)
class LabelledImage:
    image: str
    truth: Valence
    emotion: str | None = None
    person: str | None = None


def valence_of(label: str) -> Valence:
    """An emotion name (eight, plus common aliases) or a valence name → valence."""
    key = label.strip().lower()
    key = EMOTION_ALIASES.get(key, key)
    if key in EMOTION_VALENCE:
        return EMOTION_VALENCE[key]
    try:
        valence = Valence(key)
    except ValueError:
        valence = Valence.UNKNOWN
    if valence is Valence.UNKNOWN:
        names = ", ".join([*EMOTION_VALENCE, *(str(v) for v in VALENCES)])
        raise LabelsError(f"unknown label {label!r}; use one of: {names}")
    return valence


def read_labels(path: Path) -> list[LabelledImage]:
    """``image,emotion`` or ``image,valence`` CSV (an optional ``person`` column kept)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
            columns = set(rows[0]) if rows else set()
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such labels file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelsError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    label_column = next((c for c in ("emotion", "valence") if c in columns), None)
    if not rows or "image" not in columns or label_column is None:
        raise LabelsError(
            f"{path}: needs a header with 'image' and 'emotion' (or 'valence') columns "
            f"and at least one row; found columns {sorted(columns)}"
        )
    out = []
    for line, row in enumerate(rows, start=2):
        image = (row.get("image") or "").strip()
        if not image:
            raise LabelsError(f"{path}, line {line}: empty 'image'")
        try:
            truth = valence_of(row.get(label_column) or "")
        except LabelsError as exc:
            raise LabelsError(f"{path}, line {line}: {exc}") from None
        emotion = (row.get("emotion") or "").strip().lower() or None
        out.append(LabelledImage(image, truth, emotion, (row.get("person") or "").strip() or None))
    return out


@dataclass(frozen=True)
class Outcome:
    """One face's truth and what the reader said (UNKNOWN = abstained)."""

    truth: Valence
    said: Valence
    confidence: float = 0.0


@dataclass(frozen=True)
class ValenceMetrics:
    n: int
    coverage: float
    balanced_accuracy: float
    recall: dict[str, float]
    false_frustrated_rate: float
    confusion: dict[str, dict[str, int]]

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "coverage": round(self.coverage, 4),
            "balanced_valence_accuracy": round(self.balanced_accuracy, 4),
            "recall": {k: round(v, 4) for k, v in self.recall.items()},
            "false_frustrated_rate": round(self.false_frustrated_rate, 4),
            "confusion": self.confusion,
        }


def valence_metrics(outcomes: Sequence[Outcome]) -> ValenceMetrics:
    """Coverage, and on answered faces: recall per valence, their mean, false alarms.

    ``false_frustrated_rate`` is the share of answered neutral and satisfied faces
    read as frustrated (what raises a false "frustrated shopper" alarm).
    """
    answered = [o for o in outcomes if o.said is not Valence.UNKNOWN]
    recall = {}
    for v in VALENCES:
        of_v = [o for o in answered if o.truth is v]
        recall[str(v)] = sum(o.said is v for o in of_v) / len(of_v) if of_v else math.nan
    calm = [o for o in answered if o.truth is not Valence.FRUSTRATED]
    present = [r for r in recall.values() if not math.isnan(r)]
    confusion = {
        str(t): {
            str(s): sum(o.truth is t and o.said is s for o in outcomes)
            for s in (*VALENCES, Valence.UNKNOWN)
        }
        for t in VALENCES
    }
    return ValenceMetrics(
        n=len(outcomes),
        coverage=len(answered) / len(outcomes) if outcomes else math.nan,
        balanced_accuracy=float(np.mean(present)) if present else math.nan,
        recall=recall,
        false_frustrated_rate=(
            sum(o.said is Valence.FRUSTRATED for o in calm) / len(calm) if calm else math.nan
        ),
        confusion=confusion,
    )


def expected_calibration_error(
    confidence: Iterable[float], correct: Iterable[bool], bins: int = 10
) -> float:
    """ECE: the count-weighted gap between confidence and accuracy over equal-width bins."""
    conf = np.asarray(list(confidence), dtype=np.float64)
    hit = np.asarray(list(correct), dtype=np.float64)
    if not len(conf):
        return math.nan
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = which == b
        if sel.any():
            total += sel.sum() * abs(conf[sel].mean() - hit[sel].mean())
    return float(total / len(conf))


@dataclass(frozen=True)
class Prediction:
    image: str
    truth: Valence
    valence: Valence
    label: str
    confidence: float
    reason: str = ""

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "image": self.image,
            "truth": str(self.truth),
            "valence": str(self.valence),
            "label": self.label,
            "confidence": round(self.confidence, 4),
        }
        if self.reason:
            out["abstained"] = self.reason
        return out


def evaluate_images(
    labels: Sequence[LabelledImage], images_dir: Path, detector, reader
) -> dict[str, object]:
    """Read every labelled image as the product does; predictions, metrics, confusion.

    A missing or unreadable image is an error naming it (nothing is half-measured).
    The largest face of each photo is the one that is read. ``ms_per_face`` is the
    median of face detection + reading per image.
    """
    import time

    predictions: list[Prediction] = []
    ms: list[float] = []
    for item in labels:
        path = images_dir / item.image
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise LabelsError(
                f"{path}: missing or not a readable image (row image={item.image!r}); "
                "fix the path or --images"
            )
        started = time.perf_counter()
        framed, boxes, _ = faces_in_photo(image, detector)
        box = largest_face(boxes)
        if box is None:
            ms.append((time.perf_counter() - started) * 1000)
            predictions.append(
                Prediction(item.image, item.truth, Valence.UNKNOWN, UNKNOWN_LABEL, 0.0, "no_face")
            )
            continue
        reading = reader.read(framed, box)
        ms.append((time.perf_counter() - started) * 1000)
        reason = "" if reading.readable else next(iter(reading.scores), "abstained")
        predictions.append(
            Prediction(
                item.image, item.truth, reading.valence, reading.label, reading.confidence, reason
            )
        )
    metrics = valence_metrics(
        [Outcome(p.truth, p.valence, p.confidence) for p in predictions]
    ).as_dict()
    confusion = metrics.pop("confusion")
    metrics["ms_per_face"] = round(float(np.median(ms)), 2) if ms else math.nan
    metrics["reader"] = getattr(reader, "name", type(reader).__name__)
    return {
        "predictions": [p.as_dict() for p in predictions],
        "metrics": metrics,
        "confusion": confusion,
    }


HOLDOUT_BUCKETS = 10


def is_holdout_person(person: str) -> bool:
    """About 1 person in 10, fixed by a hash of the person key: never trained on.

    ``scripts/train_valence.py`` leaves these persons out of cross-validation and
    of the shipped head, so the test suite can measure the shipped head on
    people it has never seen (``tests/detectors/test_valence.py``).
    """
    import hashlib

    digest = hashlib.sha256(person.strip().lower().encode()).digest()
    return digest[0] % HOLDOUT_BUCKETS == 0
