"""Expression readers: the backends behind ``make_expression_reader(name)``.

Every reader shares one set of gates (:class:`_BaseReader`): it abstains
(``Valence.UNKNOWN``, never a guess) when the face is shorter than ``MIN_FACE_PX``,
when the backend finds no face in the crop, or when its confidence is below the
reader's ``min_confidence``; a lock guards the (not thread-safe) model. What a reading
is, and what the pipeline does with readings per track, is ``detectors.expressions``.

Backends:

- ``valence-head`` (alias ``learned``), the DEFAULT: the YOLO expression model's
  trunk (OpenVINO, ``detectors.appearance``) pooled into one vector, read by a
  trained softmax head with calibrated probabilities (``detectors.valence``).
- ``mediapipe-blendshapes`` (alias ``mediapipe``): FaceLandmarker's 52 blendshapes
  through a small rule (smile → satisfied; brow-down or frown → frustrated).
- ``yolo-expression`` (alias ``yolo``): the 8-class YOLO model's own classes.

Why the default, measured person-disjoint (grouped 5-fold CV by person over the
2,291 labelled photos of ``../shared/expressions``, ``scripts/train_valence.py``;
README, "Expression model", has the whole table): the blendshape rule read one
unhappy face in ten as frustrated (recall 10 %), the YOLO classes read 63 % of
calm faces as frustrated; heads trained on blendshapes + landmark geometry
reached 67 % balanced valence accuracy, on the YOLO class scores 65 %, on the
trunk's features 82 % at 92 % coverage (frustrated recall 76 %, 9 % of calm
faces read as frustrated). Adding the landmark features to the trunk's changed
nothing, so the default needs no landmarker pass.

``MIN_FACE_PX = 40``, from the robustness curve (the photos scaled so faces are
64 / 48 / 40 / 32 px high): balanced accuracy on answered faces 82 / 80 / 80 / 78 %,
calm faces read as frustrated 7 / 8 / 9 / 10 %; at 32 px the false-alarm target
no longer holds and satisfied recall falls to 72 %. On the real 15–29 px faces
of the shared GIFs nobody can read an expression, and every gate abstains.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np
from storelens.detectors.errors import ModelError
from storelens.detectors.expressions import (
    UNSURE_SMALL_FACE,
    ExpressionReader,
    ExpressionReading,
    rebaseable,
    unknown_reading,
)
from storelens.detectors.face_features import FaceFeatures, geometry_ratios, pose_from_matrix
from storelens.detectors.faces import (
    _quiet_mediapipe,
    close_at_exit,
    face_crop,
    load_yolo,
    mediapipe_image,
    scale_to_longest,
)
from storelens.detectors.registry import resolve_model
from storelens.detectors.types import Valence

# Faces shorter than this (full-frame pixels) are not read: UNKNOWN, never a guess.
# From the robustness curve of scripts/train_valence.py: see module docstring.
MIN_FACE_PX = 40
# Issue 17: a camera-sized face (under SMALL_FACE_PX high) is read as frustrated only at
# P >= SMALL_FACE_MIN_FRUSTRATED, else the learned reader abstains. Measured on the
# camera-like copies of the photos (person-disjoint CV, one face, no track): calm faces
# read as frustrated 14.8 % -> 6.9 %, frustrated recall 73 % -> 60 %, coverage 66 -> 56 %;
# on 64/48 px copies 12.1 -> 7.3 % and 10.8 -> 5.8 %. Photos (faces of 200+ px) are not
# touched. Tracks add the resting-face baseline on top (RestingFace).
SMALL_FACE_PX = 100
SMALL_FACE_MIN_FRUSTRATED = 0.7


class _BaseReader:
    """Size gate, confidence gate and a lock around the (not thread-safe) model."""

    name = "base"
    crop_margin = 0.25

    def __init__(self, *, min_face_px: int = MIN_FACE_PX, min_confidence: float = 0.5) -> None:
        self.min_face_px = min_face_px
        self.min_confidence = min_confidence
        self._lock = threading.Lock()

    def _read_crop(self, crop: np.ndarray) -> ExpressionReading:
        raise NotImplementedError

    def _crop(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """What the model reads of the face in ``box``: the box grown by ``crop_margin``."""
        return face_crop(image, box, self.crop_margin)

    def read(self, image: np.ndarray, face_xyxy: np.ndarray) -> ExpressionReading:
        box = np.asarray(face_xyxy, dtype=np.float32).reshape(4)
        if not np.all(np.isfinite(box)):
            return unknown_reading(self.name, "no_face")
        if box[3] - box[1] < self.min_face_px:
            return unknown_reading(self.name, "face_too_small")
        crop = self._crop(image, box)
        if crop is None:
            return unknown_reading(self.name, "no_face")
        with self._lock:
            reading = self._read_crop(crop)
        if reading.readable and reading.confidence < self.min_confidence:
            return unknown_reading(
                self.name, "low_confidence", {f"raw:{reading.label}": reading.confidence}
            )
        return reading

    def close(self) -> None:
        """Release native resources."""

    def __enter__(self) -> _BaseReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Blendshape thresholds, set on the labelled faces (see module docstring).
SMILE_THRESHOLD = 0.5
FROWN_THRESHOLD = 0.35
BROW_DOWN_THRESHOLD = 0.5
JAW_OPEN_THRESHOLD = 0.5


class BlendshapeReader(_BaseReader):
    """MediaPipe FaceLandmarker blendshapes → valence by a small, explainable rule.

    mouthSmile high → satisfied; browDown or mouthFrown high → frustrated; jawOpen
    alone (surprise) → neutral; else neutral. Confidence is how far the deciding
    blendshape is past its threshold (neutral: how far every cue is below its own).
    """

    name = "mediapipe-blendshapes"
    crop_margin = 0.35  # the landmarker re-detects the face: give it forehead and chin
    input_px = 256

    def __init__(self, model_path: Path | None = None, **gates: float) -> None:
        super().__init__(**gates)  # type: ignore[arg-type]
        _quiet_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        path = model_path or resolve_model("face-landmarker")
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
            num_faces=1,
            min_face_detection_confidence=0.3,
            min_face_presence_confidence=0.3,
        )
        try:
            self._task = vision.FaceLandmarker.create_from_options(options)
            self._closer = close_at_exit(self, self._task)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(
                f"{path}: MediaPipe could not load the face landmarker ({exc})"
            ) from exc

    def blendshapes(self, crop: np.ndarray) -> dict[str, float] | None:
        features = self.features(crop)
        return None if features is None else features.blendshapes

    def features(self, crop: np.ndarray) -> FaceFeatures | None:
        """Blendshapes, landmark geometry and head pose of the face in ``crop``.

        None when the landmarker finds no face. Not locked: callers hold the lock
        (``read``) or own the reader (training, evaluation).
        """
        scaled, _ = scale_to_longest(crop, self.input_px, upscale=cv2.INTER_CUBIC)
        result = self._task.detect(mediapipe_image(scaled))
        if not result.face_blendshapes:
            return None
        h, w = scaled.shape[:2]
        points = np.array([(lm.x * w, lm.y * h) for lm in result.face_landmarks[0]], np.float32)
        matrices = getattr(result, "facial_transformation_matrixes", None) or [None]
        return FaceFeatures(
            blendshapes={c.category_name: float(c.score) for c in result.face_blendshapes[0]},
            geometry=geometry_ratios(points),
            pose=pose_from_matrix(matrices[0]),
        )

    def _read_crop(self, crop: np.ndarray) -> ExpressionReading:
        shapes = self.blendshapes(crop)
        if shapes is None:
            return unknown_reading(self.name, "no_landmarks")
        return classify_blendshapes(shapes, self.name)

    def close(self) -> None:
        closer = getattr(self, "_closer", None)
        if closer is not None:
            closer()


def classify_blendshapes(
    shapes: dict[str, float], model: str = BlendshapeReader.name
) -> ExpressionReading:
    """The blendshape rule as a pure function (unit-testable without a model)."""

    def pair(stem: str) -> float:
        return (shapes.get(f"{stem}Left", 0.0) + shapes.get(f"{stem}Right", 0.0)) / 2

    cues = {
        "smile": pair("mouthSmile"),
        "frown": pair("mouthFrown"),
        "brow_down": pair("browDown"),
        "jaw_open": shapes.get("jawOpen", 0.0),
    }
    ratios = {
        "smile": cues["smile"] / SMILE_THRESHOLD,
        "frown": cues["frown"] / FROWN_THRESHOLD,
        "brow_down": cues["brow_down"] / BROW_DOWN_THRESHOLD,
    }
    strongest = max(ratios, key=lambda k: ratios[k])
    if ratios[strongest] >= 1.0:
        valence = Valence.SATISFIED if strongest == "smile" else Valence.FRUSTRATED
        label = "happy" if strongest == "smile" else strongest
        # 1.0 at twice the threshold, 0.5 right at it: a barely-there cue is unsure.
        confidence = min(1.0, 0.5 * ratios[strongest])
    else:
        valence = Valence.NEUTRAL
        label = "surprise" if cues["jaw_open"] >= JAW_OPEN_THRESHOLD else "neutral"
        confidence = 1.0 - 0.5 * ratios[strongest]
    return ExpressionReading(label, valence, round(confidence, 4), cues, model)


# The YOLO model's 8 classes → valence. Happy is the only positive class. Anger,
# Disgust and Contempt are the displeasure a store wants to know about. Sad is
# NOT frustrated: measured on the labelled faces, this model reads a resting face
# as Sad (the woman of the head-pose clip: 12 of 12 labelled frames, confidence 0.50–0.79),
# and mapping Sad → frustrated turned 14 of 28 neutral faces into frustrated ones.
# Surprise and Fear are high-arousal but not clearly positive or negative for a
# shopper (a price tag, a product found): neutral.
YOLO_VALENCE: dict[str, Valence] = {
    "Happy": Valence.SATISFIED,
    "Anger": Valence.FRUSTRATED,
    "Disgust": Valence.FRUSTRATED,
    "Contempt": Valence.FRUSTRATED,
    "Sad": Valence.NEUTRAL,
    "Neutral": Valence.NEUTRAL,
    "Surprise": Valence.NEUTRAL,
    "Fear": Valence.NEUTRAL,
}


class YoloExpressionReader(_BaseReader):
    """The YOLO face/expression model (8 classes, trained at 320 px) on a face crop.

    It was trained on face close-ups: on a crop it returns a box around the whole
    crop per class it sees, so the per-class scores are the best box confidence of
    each class. The top class decides; the valence confidence is that class's
    share of all class scores times its own confidence (so two classes close
    together lower it).
    """

    name = "yolo-expression"
    crop_margin = 0.15
    input_px = 320

    def __init__(self, model_path: Path | None = None, **gates: float) -> None:
        super().__init__(**gates)  # type: ignore[arg-type]
        self._model = load_yolo(model_path or resolve_model("yolo-face-expression"))
        self._names: dict[int, str] = dict(self._model.names)
        unknown = set(self._names.values()) - set(YOLO_VALENCE)
        if unknown:
            raise ModelError(
                f"yolo-face-expression has classes {sorted(unknown)} with no valence mapping"
            )

    def _read_crop(self, crop: np.ndarray) -> ExpressionReading:
        result = self._model.predict(crop, imgsz=self.input_px, conf=0.02, verbose=False)[0]
        scores = {name: 0.0 for name in self._names.values()}
        for cls, conf in zip(result.boxes.cls.tolist(), result.boxes.conf.tolist(), strict=True):
            name = self._names[int(cls)]
            scores[name] = max(scores[name], float(conf))
        total = sum(scores.values())
        if total <= 0:
            return unknown_reading(self.name, "no_face")
        label = max(scores, key=lambda k: scores[k])
        valence = YOLO_VALENCE[label]
        same_valence = sum(s for k, s in scores.items() if YOLO_VALENCE[k] is valence)
        confidence = float(np.sqrt(scores[label] * same_valence / total))
        return ExpressionReading(label.lower(), valence, round(confidence, 4), scores, self.name)


class LearnedValenceReader(_BaseReader):
    """The default: the learned valence head on the expression trunk's features.

    One OpenVINO pass of the YOLO expression model's trunk over the face crop
    (``detectors.appearance``), then the trained head of ``detectors.valence``:
    calibrated probabilities of the three valences. ``label`` is the valence read,
    ``confidence`` the calibrated top probability, and ``scores`` all three
    probabilities (``p_satisfied`` …) so the satisfaction index can use expected
    counts. Below the head's ``abstain_below`` the reading is an abstention.

    Known limit (README, "Expression model"): trained on press photos, it reads the
    resting face of one of the two calm people in the shared head-pose clip as
    frustrated; levelling tilted faces and gating on blendshape cues were tried and
    did not change that.
    """

    name = "valence-head"

    def __init__(self, head_path: Path | None = None, **gates: float) -> None:
        from storelens.detectors.appearance import (
            CROP_MARGIN,
            PREPROCESS,
            AppearanceExtractor,
            FaceLeveller,
        )
        from storelens.detectors.valence import load_valence_head

        self.head = load_valence_head(head_path)
        if self.head.preprocess != PREPROCESS:
            raise ModelError(
                f"the valence head was trained on {self.head.preprocess!r} face crops, this "
                f"StoreLens makes {PREPROCESS!r} ones; retrain it with scripts/train_valence.py "
                "--write"
            )
        self.leveller = FaceLeveller()
        # The head's own threshold (chosen from its coverage/accuracy curve) is the
        # confidence gate unless the caller sets one.
        gates.setdefault("min_confidence", self.head.abstain_below)
        super().__init__(**gates)  # type: ignore[arg-type]
        self.crop_margin = CROP_MARGIN
        self.trunk = AppearanceExtractor()
        if self.trunk.size != self.head.weights[0].shape[0]:
            raise ModelError(
                f"valence head expects {self.head.weights[0].shape[0]} features, the trunk "
                f"gives {self.trunk.size}; retrain with scripts/train_valence.py --write"
            )

    def _crop(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        return self.leveller(image, box)  # eye-level and grey, as the head was trained

    def read(self, image: np.ndarray, face_xyxy: np.ndarray) -> ExpressionReading:
        """As every reader, plus the small-face bar on frustrated (see SMALL_FACE_PX)."""
        reading = super().read(image, face_xyxy)
        box = np.asarray(face_xyxy, dtype=np.float32).reshape(4)
        if (
            reading.valence is Valence.FRUSTRATED
            and box[3] - box[1] < SMALL_FACE_PX
            and reading.confidence < SMALL_FACE_MIN_FRUSTRATED
        ):
            # The probabilities stay with the abstention: a track's resting-face baseline
            # can still read it (RestingFace), a single face cannot.
            return unknown_reading(self.name, UNSURE_SMALL_FACE, dict(reading.scores))
        return reading

    def _read_crop(self, crop: np.ndarray) -> ExpressionReading:
        from storelens.detectors.valence import decide, probabilities_by_valence

        probs = probabilities_by_valence(self.head, self.trunk(crop))
        top, confidence = decide(self.head, probs)
        scores = {f"p_{v}": round(p, 4) for v, p in probs.items()}
        # Below the head's threshold _BaseReader.read turns this into an abstention.
        return ExpressionReading(str(top), top, round(confidence, 4), scores, self.name)

    def rebase(self, reading: ExpressionReading, resting_frustrated: float) -> ExpressionReading:
        """``reading`` relative to a shopper's resting face (see :class:`RestingFace`).

        P(frustrated) above the resting level stays; the rest of it is the face's own
        look at rest and moves to neutral. The decision is then made as for any reading
        (weights, abstention threshold), so a calm shopper whose resting face the head
        reads as displeased reads neutral, and one who becomes displeased still reads
        frustrated.
        """
        from storelens.detectors.valence import decide

        if not rebaseable(reading):
            return reading
        p_fru = float(reading.scores["p_frustrated"])
        kept = max(0.0, p_fru - max(0.0, resting_frustrated))
        probs = {
            Valence.SATISFIED: float(reading.scores["p_satisfied"]),
            Valence.NEUTRAL: float(reading.scores["p_neutral"]) + (p_fru - kept),
            Valence.FRUSTRATED: kept,
        }
        top, confidence = decide(self.head, probs)
        scores = {f"p_{v}": round(p, 4) for v, p in probs.items()}
        scores["resting_p_frustrated"] = round(float(resting_frustrated), 4)
        if confidence < self.min_confidence:
            return unknown_reading(self.name, "low_confidence", scores)
        label = (
            "resting face" if top is Valence.NEUTRAL and reading.valence is not top else str(top)
        )
        return ExpressionReading(label, top, round(confidence, 4), scores, self.name)


EXPRESSION_READERS: dict[str, type[_BaseReader]] = {
    "valence-head": LearnedValenceReader,
    "mediapipe-blendshapes": BlendshapeReader,
    "yolo-expression": YoloExpressionReader,
}
READER_ALIASES = {
    "learned": "valence-head",
    "mediapipe": "mediapipe-blendshapes",
    "yolo": "yolo-expression",
}
DEFAULT_EXPRESSION_READER = "valence-head"


def make_expression_reader(
    name: str = DEFAULT_EXPRESSION_READER, **gates: float
) -> ExpressionReader:
    """Build a reader by name: ``mediapipe-blendshapes`` (default) or ``yolo-expression``.

    ``gates``: ``min_face_px`` and ``min_confidence`` override the abstention gates.
    """
    try:
        cls = EXPRESSION_READERS[READER_ALIASES.get(name, name)]
    except KeyError:
        raise ValueError(
            f"unknown expression reader {name!r}; choose one of {sorted(EXPRESSION_READERS)}"
        ) from None
    return cls(**gates)
