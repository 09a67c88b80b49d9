"""Extract the valence head's inputs from ../shared/expressions, through the product path.

    .venv/bin/python scripts/valence_features.py [--conditions clean,px64,...] [--yolo]

For every labelled photo and every damage condition it runs what the pipeline
runs: YuNet finds the face in the (grey-framed) photo, the face is cropped with
the reader's margin, MediaPipe's landmarker gives blendshapes, geometry and pose
(``detectors.face_features``), and the expression trunk gives the appearance
vector (``detectors.appearance``). The result is cached in
``var/valence/features-<condition>.npz`` so training and the robustness table
can be rerun in seconds. ``--yolo`` also stores the YOLO expression model's 8
class scores (to measure it as a feature source; slow).

Damage conditions (CCTV-like, applied to the photo before detection):
``clean``; ``px64`` / ``px48`` / ``px40`` / ``px32`` (the whole photo scaled so
the face is that many px high); ``jpeg30`` (JPEG quality 30); ``grey``; ``blur``
(horizontal motion blur over 8 % of the face height); ``camera`` (issue 17: what a
store camera's GIF/MJPEG frame does to a face, drawn per photo from a seeded
generator: face 30–72 px high, flat light (contrast × 0.45–0.9, brightness ± 25),
an ordered-dither palette of 12–48 levels like the GIF encoder's dots, and JPEG
35–80 on half of them).

The face is cut as the reader cuts it (``detectors.appearance.FaceLeveller``:
eye-level, grey), so training and the product never drift apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from storelens.detectors.appearance import (  # noqa: E402
    CROP_MARGIN,
    AppearanceExtractor,
    FaceLeveller,
)
from storelens.detectors.expression_readers import BlendshapeReader  # noqa: E402
from storelens.detectors.face_features import GEOMETRY_NAMES  # noqa: E402
from storelens.detectors.faces import YuNetFaceDetector, face_crop  # noqa: E402
from storelens.detectors.offline.evaluation import read_labels  # noqa: E402
from storelens.detectors.photo import largest_face, pad_photo  # noqa: E402
from storelens.kernel.paths import shared_dir, storelens_home  # noqa: E402

CONDITIONS = ("clean", "camera", "px64", "px48", "px40", "px32", "jpeg30", "grey", "blur")
CAMERA_SEED = 17


def _bayer(n: int = 8) -> np.ndarray:
    """The n × n ordered-dither threshold matrix in (0, 1)."""
    m = np.array([[0, 2], [3, 1]])
    while m.shape[0] < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return (m + 0.5) / m.size


BAYER = _bayer()


def ordered_dither(image: np.ndarray, levels: int) -> np.ndarray:
    """Quantise to ``levels`` per channel with the Bayer pattern GIF encoders leave."""
    h, w = image.shape[:2]
    t = np.tile(BAYER, (h // 8 + 1, w // 8 + 1))[:h, :w]
    if image.ndim == 3:
        t = t[:, :, None]
    x = image.astype(np.float32) / 255 * (levels - 1)
    return (np.floor(x + t) / (levels - 1) * 255).clip(0, 255).astype(np.uint8)


def camera_like(image: np.ndarray, face_h: float, rng: np.random.Generator) -> np.ndarray:
    """One camera-like copy of a photo (see the module docstring)."""
    scale = rng.uniform(30, 72) / face_h
    h, w = image.shape[:2]
    out = cv2.resize(
        image, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    mean = float(out.mean())
    flat = (out.astype(np.float32) - mean) * rng.uniform(0.45, 0.9) + mean + rng.uniform(-25, 25)
    out = ordered_dither(np.clip(flat, 0, 255).astype(np.uint8), int(rng.integers(12, 48)))
    if rng.random() < 0.5:
        quality = int(rng.integers(35, 80))
        _, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


N_POSE = 3


def damage(
    image: np.ndarray, condition: str, face_h: float | None, rng: np.random.Generator | None = None
) -> np.ndarray:
    if condition == "clean":
        return image
    if condition == "camera":
        if not face_h:
            return image
        return camera_like(image, face_h, rng or np.random.default_rng(CAMERA_SEED))
    if condition.startswith("px"):
        target = int(condition[2:])
        if not face_h:
            return image
        scale = target / face_h
        h, w = image.shape[:2]
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if condition == "jpeg30":
        _, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if condition == "grey":
        return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if condition == "blur":
        k = max(3, round(0.08 * (face_h or image.shape[0] * 0.6)) | 1)
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2, :] = 1.0 / k
        return cv2.filter2D(image, -1, kernel)
    raise ValueError(f"unknown condition {condition!r}; choose from {CONDITIONS}")


def features_path(condition: str, kind: str = "landmarks") -> Path:
    folder = storelens_home() / "valence"
    folder.mkdir(parents=True, exist_ok=True)
    name = "features" if kind == "landmarks" else kind
    return folder / f"{name}-{condition}.npz"


def extract(
    condition: str, clean_face_h: np.ndarray | None, landmarks: bool, with_yolo: bool
) -> np.ndarray:
    """Extract one condition; returns the face heights found (for the px* conditions)."""
    root = shared_dir() / "expressions"
    labels = read_labels(root / "labels.csv")
    detector = YuNetFaceDetector()
    trunk = AppearanceExtractor()
    leveller = FaceLeveller()
    rng = np.random.default_rng(CAMERA_SEED)
    reader = BlendshapeReader(min_face_px=0, min_confidence=0.0) if landmarks else None
    yolo = None
    if with_yolo:
        from storelens.detectors.expression_readers import YoloExpressionReader

        yolo = YoloExpressionReader(min_face_px=0, min_confidence=0.0)
    n = len(labels)
    names: tuple[str, ...] | None = None
    appearance: np.ndarray | None = None
    shapes = np.full((n, 52), np.nan, np.float32)
    geometry = np.full((n, len(GEOMETRY_NAMES)), np.nan, np.float32)
    pose = np.full((n, N_POSE), np.nan, np.float32)
    face_h = np.full(n, np.nan, np.float32)
    yolo_scores = np.full((n, 8), np.nan, np.float32)
    ms = []
    started = time.time()
    for i, item in enumerate(labels):
        image = cv2.imread(str(root / "images" / item.image), cv2.IMREAD_COLOR)
        if image is None:
            continue
        ref_h = None if clean_face_h is None else float(clean_face_h[i])
        if ref_h is not None and not np.isfinite(ref_h):
            ref_h = None
        framed, _, _ = pad_photo(damage(image, condition, ref_h, rng))
        t0 = time.perf_counter()
        box = largest_face(detector.detect_full_frame(framed))
        if box is None:
            continue
        face_h[i] = box[3] - box[1]
        tight = leveller(framed, box)
        if tight is not None:
            vector = trunk(tight)
            if appearance is None:
                appearance = np.full((n, len(vector)), np.nan, np.float32)
            appearance[i] = vector
        ms.append((time.perf_counter() - t0) * 1000)
        if reader is not None:
            crop = face_crop(framed, box, reader.crop_margin)
            feats = None if crop is None else reader.features(crop)
            if feats is not None:
                names = names or tuple(feats.blendshapes)
                shapes[i] = [feats.blendshapes.get(k, 0.0) for k in names]
                geometry[i] = feats.geometry
                pose[i] = feats.pose
        if yolo is not None and tight is not None:
            reading = yolo._read_crop(face_crop(framed, box, CROP_MARGIN))
            yolo_scores[i] = [reading.scores.get(k, 0.0) for k in sorted(yolo._names.values())]
        if (i + 1) % 500 == 0:
            print(f"  {condition}: {i + 1}/{n} ({time.time() - started:.0f} s)", flush=True)
    if reader is not None:
        reader.close()
    detector.close()
    common = {
        "images": np.array([x.image for x in labels]),
        "emotion": np.array([x.emotion or "" for x in labels]),
        "person": np.array([x.person or x.image for x in labels]),
        "face_h": face_h,
    }
    out = features_path(condition, "appearance")
    np.savez_compressed(
        out,
        **common,
        appearance=appearance if appearance is not None else np.zeros((n, 0), np.float32),
        ms_median=np.float32(np.median(ms) if ms else np.nan),
    )
    if landmarks:
        np.savez_compressed(
            features_path(condition),
            **common,
            blendshape_names=np.array(names or ()),
            blendshapes=shapes,
            geometry=geometry,
            pose=pose,
            yolo=yolo_scores,
        )
    print(
        f"{condition}: face found {np.isfinite(face_h).mean():.1%}, median "
        f"{np.median(ms):.1f} ms per face (detect + trunk) -> {out}",
        flush=True,
    )
    return face_h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument(
        "--landmarks", action="store_true", help="also MediaPipe features (to compare)"
    )
    parser.add_argument("--yolo", action="store_true", help="also YOLO class scores (clean)")
    args = parser.parse_args()
    clean_face_h = None
    wanted = args.conditions.split(",")
    if wanted[0] != "clean":  # the px* conditions scale by the clean face height
        clean = features_path("clean", "appearance")
        if clean.is_file():
            clean_face_h = np.load(clean)["face_h"]
        else:
            wanted.insert(0, "clean")
    for condition in wanted:
        face_h = extract(
            condition, clean_face_h, args.landmarks, args.yolo and condition == "clean"
        )
        if condition == "clean":
            clean_face_h = face_h


if __name__ == "__main__":
    main()
