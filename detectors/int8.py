"""INT8 person model: NNCF post-training quantisation, made by ``storelens models prepare``.

What: the box branch of the OpenVINO person model (the graph ``_OpenVinoBoxes`` runs),
quantised with NNCF (``preset=MIXED``: symmetric weights, asymmetric activations) on every
other frame of the five shared clips; the frames in between are held back to compare it
with FP32. Why: the person model is most of the pipeline's time at 16 cameras, and INT8
is measured about 2× faster per inference on this CPU (AVX-512 VNNI;
``benchmarks/bench_int8.py``).

Cache: one folder per (person model hash, input size, calibration clips' hashes, NNCF
and OpenVINO versions), written atomically (temp folder, then rename) with
``agreement.json`` beside the model; a later prepare with the same inputs reuses it.

Fallback: when the model is asked for INT8 and no prepared INT8 model is in the cache
(prepare never ran, NNCF missing, quantisation failed), the detector runs FP32 and logs
why, once; ``PersonDetector.precision`` says which one runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from storelens.detectors.errors import ModelError
from storelens.detectors.int8_cache import (
    AGREEMENT_JSON,
    INT8_XML,
    MATCH_IOU,
    Int8Model,
    _clips,
    cached_int8,
    int8_dir,
)
from storelens.detectors.registry import get_spec

log = logging.getLogger(__name__)


def _frames() -> tuple[list[np.ndarray], list[np.ndarray]]:
    import cv2

    frames: list[np.ndarray] = []
    for clip in _clips():
        cap = cv2.VideoCapture(str(clip))
        while True:
            ok, image = cap.read()
            if not ok:
                break
            frames.append(image)
        cap.release()
    return frames[::2], frames[1::2]


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-6)


def agreement(fp32, int8, frames: list[np.ndarray]) -> dict[str, Any]:
    """How INT8 boxes agree with FP32 on ``frames`` (two callables image -> (xyxy, conf))."""
    total = found = added = same_count = 0
    ious: list[float] = []
    for image in frames:
        a, b = fp32(image), int8(image)
        total += len(a)
        same_count += len(a) == len(b)
        if len(a) and len(b):
            best = _iou(a, b).max(axis=1)
            matched = best >= MATCH_IOU
            found += int(matched.sum())
            ious += best[matched].tolist()
            added += max(0, len(b) - int(matched.sum()))
        else:
            added += len(b)
    return {
        "frames": len(frames),
        "fp32_boxes": total,
        "found_again": found,
        "added": added,
        "mean_iou": round(float(np.mean(ious)), 3) if ious else None,
        "frames_same_count": same_count,
    }


def prepare_int8_person_model(
    imgsz: int = 416, model_name: str = "yolo11n-person", explicit: str | Path | None = None
) -> Int8Model:
    """Quantise the person model once for these inputs (idempotent; see the module doc)."""
    done = cached_int8(model_name, imgsz)
    if done is not None:
        return done
    try:
        import nncf
    except ImportError as exc:
        raise ModelError(
            f"INT8 needs NNCF ({exc}); install the project's pin: pip install nncf==3.4.0"
        ) from exc
    import openvino as ov
    from storelens.detectors.persons import (
        PERSON_CLASS_ID,
        _OpenVinoBoxes,
        letterbox,
        prepare_person_model,
    )

    fp32_dir = prepare_person_model("openvino", imgsz, model_name, explicit)
    fp32_xml = next(fp32_dir.glob("*.xml"))
    core = ov.Core()
    full = core.read_model(str(fp32_xml))
    boxes_only = ov.Model([full.outputs[0].get_node()], full.get_parameters(), "boxes")
    calibration, held_back = _frames()
    try:
        quantized = nncf.quantize(
            boxes_only,
            nncf.Dataset(calibration, lambda image: letterbox(image, imgsz)[0]),
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(calibration),
        )
    except Exception as exc:  # NNCF raises many kinds; the caller keeps FP32
        raise ModelError(f"INT8 quantisation of {model_name} failed: {exc}") from exc
    folder = int8_dir(model_name, imgsz)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".int8-") as tmp:
        ov.save_model(quantized, str(Path(tmp) / INT8_XML), compress_to_fp16=False)
        fp32 = _OpenVinoBoxes(fp32_xml, imgsz, PERSON_CLASS_ID)
        int8 = _OpenVinoBoxes(Path(tmp) / INT8_XML, imgsz, PERSON_CLASS_ID)
        conf = 0.35
        report = agreement(
            lambda image: fp32(image, conf)[0], lambda image: int8(image, conf)[0], held_back
        )
        (Path(tmp) / AGREEMENT_JSON).write_text(json.dumps(report, indent=1))
        (Path(tmp) / ".complete").write_text(f"{get_spec(model_name).sha256}\n")
        if folder.exists():  # another process won the race; keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, folder)
            Path(tmp).mkdir()  # TemporaryDirectory cleanup expects it
    return Int8Model(folder / INT8_XML, report, cached=False)
