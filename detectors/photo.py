"""Faces in a still photo: the grey frame a tight crop needs, and the largest face.

Shared by the live CLI (``storelens expression IMAGE``), the offline evaluation
harness and training, so none of them imports another (issue 20: the live reader
no longer depends on the evaluation harness).
"""

from __future__ import annotations

import cv2
import numpy as np

# Grey margin around a photo, as a share of its size: a tight face crop gives the
# detector no context and would otherwise be missed.
PHOTO_PAD = 0.3


def pad_photo(image: np.ndarray, pad: float = PHOTO_PAD) -> tuple[np.ndarray, int, int]:
    """A mid-grey frame around a photo; returns the framed image and the offsets."""
    h, w = image.shape[:2]
    dy, dx = round(pad * h), round(pad * w)
    framed = cv2.copyMakeBorder(image, dy, dy, dx, dx, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    return framed, dx, dy


def largest_face(boxes: np.ndarray) -> np.ndarray | None:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if not len(boxes):
        return None
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return boxes[int(np.argmax(areas))]


def faces_in_photo(image: np.ndarray, detector) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Face boxes of a photo, found in a grey frame around it (tight crops need one).

    Returns ``(framed image, boxes in framed pixels, the same boxes in the photo's
    pixels)``, most confident first. ``detector`` is a ``FaceDetector``.
    """
    framed, dx, dy = pad_photo(image)
    boxes = np.asarray(detector.detect_full_frame(framed), dtype=np.float32).reshape(-1, 4)
    h, w = image.shape[:2]
    in_photo = boxes - np.array([dx, dy, dx, dy], dtype=np.float32)
    in_photo[:, [0, 2]] = np.clip(in_photo[:, [0, 2]], 0, w)
    in_photo[:, [1, 3]] = np.clip(in_photo[:, [1, 3]], 0, h)
    return framed, boxes, in_photo
