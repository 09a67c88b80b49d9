"""What the benchmark scripts share: the shared clips, their frames, and box IoU.

Imported by the scripts in this folder (run as ``python benchmarks/<script>.py``, which
puts this folder first on the path); not part of the installed package.
"""

from __future__ import annotations

import cv2
import numpy as np
from storelens.detectors.media import shared_clip

SHARED_CLIPS = (
    "store-aisle-detection.gif",
    "people-detection.gif",
    "face-demographics-walking.gif",
    "head-pose-face-detection-female-and-male.gif",
    "classroom.gif",
)


def clip_frames(name: str, limit: int | None = None) -> list[np.ndarray]:
    """The decoded BGR frames of one shared clip, at most ``limit``."""
    cap = cv2.VideoCapture(str(shared_clip(name)))
    out: list[np.ndarray] = []
    while limit is None or len(out) < limit:
        ok, image = cap.read()
        if not ok:
            break
        out.append(image)
    cap.release()
    return out


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) IoU of two sets of xyxy boxes."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None] - inter)
