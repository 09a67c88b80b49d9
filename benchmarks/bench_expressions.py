"""Expression backends on hand-labelled faces: accuracy, abstentions, confusion, speed.

    .venv/bin/python benchmarks/bench_expressions.py [--runs 5] [--verbose] [--json]

Faces come from ``tests/data_faces/labels.csv`` (labels only; the pictures stay in
../shared/media and inside installed wheels). Per backend it prints:

- accuracy on readable faces (labelled satisfied/neutral/frustrated) where the
  backend did not abstain, the abstain rate on them, and coverage-accuracy
  (correct / all readable faces);
- the abstain rate on faces labelled unreadable (should be 1.0);
- confusion counts (label → reading);
- ms per face (median of ``--runs`` runs of every face);
- a size sweep: each clear face downscaled to N px high, read with the size gate
  off, agreement with the label (this is how MIN_FACE_PX was chosen);
- flip stability: the valence of each readable face vs. its mirror image.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from storelens.detectors.expression_readers import (  # noqa: E402
    EXPRESSION_READERS,
    make_expression_reader,
)
from storelens.kernel.paths import shared_dir  # noqa: E402

LABELS_CSV = REPO / "tests" / "data_faces" / "labels.csv"
VALENCES = ("satisfied", "neutral", "frustrated")
SWEEP_PX = (16, 24, 32, 40, 48, 64)


@dataclass(frozen=True)
class LabelledFace:
    source: str
    frame: int
    box: np.ndarray
    label: str
    clarity: str

    @property
    def readable(self) -> bool:
        return self.label in VALENCES


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def source_path(source: str) -> Path | None:
    """Where a labels.csv ``source`` lives: shared/..., <python package>/..."""
    head, _, rest = source.partition("/")
    if head == "shared":
        return shared_dir() / rest
    if head == "matplotlib":
        base = _package_dir("matplotlib")
        return None if base is None else base / "mpl-data" / rest
    base = _package_dir(head)
    return None if base is None else base / rest


def load_frame(path: Path, index: int) -> np.ndarray:
    if path.suffix.lower() in {".jpg", ".jpeg", ".png"}:
        image = cv2.imread(str(path))
    else:
        cap = cv2.VideoCapture(str(path))
        image = None
        for _ in range(index + 1):
            ok, image = cap.read()
            if not ok:
                image = None
                break
        cap.release()
    if image is None:
        raise FileNotFoundError(f"{path}: frame {index} could not be read")
    return image


def load_labelled_faces(csv_path: Path = LABELS_CSV) -> tuple[list[LabelledFace], dict, list[str]]:
    """(faces, {(source, frame): image}, missing sources)."""
    faces: list[LabelledFace] = []
    images: dict[tuple[str, int], np.ndarray] = {}
    missing: list[str] = []
    with csv_path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            key = (row["source"], int(row["frame"]))
            if key not in images:
                path = source_path(row["source"])
                if path is None or not path.exists():
                    missing.append(row["source"])
                    continue
                images[key] = load_frame(path, key[1])
            box = np.array([float(row[k]) for k in ("x1", "y1", "x2", "y2")], dtype=np.float32)
            faces.append(LabelledFace(row["source"], key[1], box, row["label"], row["clarity"]))
    return faces, images, sorted(set(missing))


def downscaled(image: np.ndarray, box: np.ndarray, face_px: int) -> tuple[np.ndarray, np.ndarray]:
    """The image scaled so the face is ``face_px`` high (never up), and the new box."""
    scale = min(1.0, face_px / float(box[3] - box[1]))
    h, w = image.shape[:2]
    small = cv2.resize(
        image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    return small, box * scale


def flipped(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w = image.shape[1]
    return cv2.flip(image, 1), np.array([w - box[2], box[1], w - box[0], box[3]], dtype=np.float32)


def evaluate(name: str, faces: list[LabelledFace], images: dict, runs: int, verbose: bool) -> dict:
    reader = make_expression_reader(name)
    ungated = make_expression_reader(name, min_face_px=0, min_confidence=0.0)
    try:
        confusion: Counter[tuple[str, str]] = Counter()
        times: list[float] = []
        per_face = []
        for face in faces:
            image = images[(face.source, face.frame)]
            reading = reader.read(image, face.box)
            samples = []
            for _ in range(runs):
                t = time.perf_counter()
                reader.read(image, face.box)
                samples.append((time.perf_counter() - t) * 1000)
            if face.box[3] - face.box[1] >= reader.min_face_px:  # gated faces cost nothing
                times.append(statistics.median(samples))
            confusion[(face.label, str(reading.valence))] += 1
            raw = ungated.read(image, face.box)
            per_face.append((face, reading, raw))
            if verbose:
                top = sorted(raw.scores.items(), key=lambda kv: -kv[1])[:4]
                print(
                    f"  {name:22s} {Path(face.source).name[:24]:24s} f{face.frame:<3d} "
                    f"h{int(face.box[3] - face.box[1]):<4d} label={face.label:10s} "
                    f"read={reading.valence!s:10s} "
                    f"raw={raw.label}/{raw.valence!s}@{raw.confidence:.2f} "
                    + " ".join(f"{k}={v:.2f}" for k, v in top)
                )
        readable = [(f, r) for f, r, _ in per_face if f.readable]
        answered = [(f, r) for f, r in readable if r.readable]
        correct = sum(str(r.valence) == f.label for f, r in answered)
        unreadable = [r for f, r, _ in per_face if f.label == "unreadable"]
        clear = [(f, r) for f, r in readable if f.clarity == "clear"]
        clear_correct = sum(str(r.valence) == f.label for f, r in clear)

        # Size sweep on clear faces, split neutral / expressive: a backend that says
        # "neutral" to everything looks perfect on the neutral half alone.
        sweep: dict[str, dict[int, str]] = {"neutral": {}, "expressive": {}}
        for px in SWEEP_PX:
            tally = {"neutral": [0, 0], "expressive": [0, 0]}
            for face in faces:
                if face.clarity != "clear":
                    continue
                image, box = downscaled(images[(face.source, face.frame)], face.box, px)
                reading = ungated.read(image, box)
                group = tally["neutral" if face.label == "neutral" else "expressive"]
                group[0] += str(reading.valence) == face.label
                group[1] += 1
            for group_name, (agree, total) in tally.items():
                sweep[group_name][px] = f"{agree}/{total}"

        stable = compared = 0
        for face, reading, _ in per_face:
            if not (face.readable and reading.readable):
                continue
            image, box = flipped(images[(face.source, face.frame)], face.box)
            mirror = reader.read(image, box)
            compared += 1
            stable += mirror.valence == reading.valence
        return {
            "backend": name,
            "readable_faces": len(readable),
            "accuracy_on_answered": round(correct / len(answered), 3) if answered else None,
            "abstain_rate_readable": round(1 - len(answered) / len(readable), 3)
            if readable
            else None,
            "coverage_accuracy": round(correct / len(readable), 3) if readable else None,
            "clear_faces": len(clear),
            "clear_agreement": round(clear_correct / len(clear), 3) if clear else None,
            "abstain_rate_unreadable": (
                round(sum(not r.readable for r in unreadable) / len(unreadable), 3)
                if unreadable
                else None
            ),
            "ms_per_face_median": round(statistics.median(times), 2) if times else None,
            "confusion": {f"{a}->{b}": n for (a, b), n in sorted(confusion.items())},
            "size_sweep_agreement": sweep,
            "flip_stable": f"{stable}/{compared}",
        }
    finally:
        reader.close()
        ungated.close()


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def evaluate_face_detectors(faces: list[LabelledFace], images: dict, runs: int) -> list[dict]:
    """Each face detector inside real person boxes (YOLO11n persons) on the labelled
    frames: share of labelled faces found (IoU ≥ 0.3), their mean IoU, and the face
    stage's ms per frame (median of ``runs``)."""
    from storelens.detectors.faces import FACE_COLUMN, FACE_DETECTORS, make_face_detector
    from storelens.detectors.registry import resolve_model
    from storelens.detectors.types import Detections
    from ultralytics import YOLO

    person_model = YOLO(str(resolve_model("yolo11n-person")))
    persons = {}
    for key, image in images.items():
        result = person_model.predict(image, classes=[0], conf=0.3, imgsz=640, verbose=False)[0]
        xyxy = result.boxes.xyxy.cpu().numpy()
        persons[key] = Detections(xyxy, result.boxes.conf.cpu().numpy(), np.zeros(len(xyxy)))
    out = []
    for name in FACE_DETECTORS:
        detector = make_face_detector(name)
        try:
            found: dict[str, list[float]] = {"readable": [], "unreadable": []}
            frame_ms: list[float] = []
            for key, image in images.items():
                samples = []
                for _ in range(runs):
                    t = time.perf_counter()
                    dets = detector.detect(image, persons[key][np.arange(len(persons[key]))])
                    samples.append((time.perf_counter() - t) * 1000)
                frame_ms.append(statistics.median(samples))
                boxes = [b for b in dets.data[FACE_COLUMN] if np.isfinite(b).all()]
                for face in faces:
                    if (face.source, face.frame) != key:
                        continue
                    best = max((_iou(face.box, b) for b in boxes), default=0.0)
                    found["readable" if face.readable else "unreadable"].append(best)
            row = {"detector": name, "ms_per_frame_median": round(statistics.median(frame_ms), 1)}
            for group, ious in found.items():
                hits = [v for v in ious if v >= 0.3]
                row[f"found_{group}"] = f"{len(hits)}/{len(ious)}"
                row[f"mean_iou_{group}"] = round(float(np.mean(hits)), 2) if hits else None
            out.append(row)
        finally:
            detector.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per face (median)")
    parser.add_argument("--backend", action="append", choices=sorted(EXPRESSION_READERS))
    parser.add_argument("--verbose", action="store_true", help="print every face's reading")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-faces", action="store_true", help="skip the face-detector section")
    args = parser.parse_args(argv)
    faces, images, missing = load_labelled_faces()
    if missing:
        print(f"skipped faces from missing sources: {missing}", file=sys.stderr)
    counts = Counter((f.label, f.clarity) for f in faces)
    results = [
        evaluate(n, faces, images, args.runs, args.verbose)
        for n in args.backend or EXPRESSION_READERS
    ]
    detectors = [] if args.no_faces else evaluate_face_detectors(faces, images, args.runs)
    if args.json:
        print(
            json.dumps(
                {
                    "faces": len(faces),
                    "label_counts": {f"{a}/{b}": n for (a, b), n in counts.items()},
                    "backends": results,
                    "face_detectors": detectors,
                }
            )
        )
        return 0
    print(
        f"{len(faces)} labelled faces: "
        + ", ".join(f"{a}/{b} {n}" for (a, b), n in sorted(counts.items()))
    )
    header = (
        "backend",
        "acc(answered)",
        "abstain(readable)",
        "cov-acc",
        "clear agree",
        "abstain(unreadable)",
        "ms/face",
        "flip-stable",
    )
    print(" | ".join(header))
    for r in results:
        print(
            " | ".join(
                str(v)
                for v in (
                    r["backend"],
                    r["accuracy_on_answered"],
                    r["abstain_rate_readable"],
                    r["coverage_accuracy"],
                    r["clear_agreement"],
                    r["abstain_rate_unreadable"],
                    r["ms_per_face_median"],
                    r["flip_stable"],
                )
            )
        )
    for r in results:
        print(f"{r['backend']} confusion: {r['confusion']}")
        print(
            f"{r['backend']} size sweep (face px → agreement on clear faces, size gate off): "
            f"{r['size_sweep_agreement']}"
        )
    if detectors:
        print("face detector | found readable (IoU≥0.3) | mean IoU | found unreadable | ms/frame")
        for d in detectors:
            print(
                f"{d['detector']} | {d['found_readable']} | {d['mean_iou_readable']} | "
                f"{d['found_unreadable']} | {d['ms_per_frame_median']}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
