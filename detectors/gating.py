"""When to run the person detector on a camera's frame, and when the tracker's prediction will do.

The person model is the largest cost per analysed frame (issue 12). Two measured savings
share one rule, :meth:`DetectionGate.update`:

* **Every k-th frame while the scene moves.** People walk a few pixels per frame at
  12.5 fps; between two detections the tracker's Kalman prediction places each box
  (``PersonTracker.predict``), so events, overlays and blur still see every frame.
* **Motion gating while the scene is still.** A frame that differs from the frame of the
  last detection by less than ``motion_fraction`` of its (tiny, grey) pixels is not worth a
  detection; the tracker holds the boxes. A still scene is still re-detected every
  ``still_max_skip`` frames, so a slow change never goes unseen for long.

The bound the tests hold us to: a person who walks into an unchanged scene moves pixels, so
the first frame where they are visible is detected within ``every_k`` frames (with the
defaults, the frame itself or the next one).

Motion is measured on a 64-pixel-wide grey thumbnail (area-averaged, so sensor and JPEG
noise average out): about 0.1 ms per frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

THUMB_WIDTH = 64


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A small grey version of ``image`` for cheap frame-to-frame comparison."""
    h, w = image.shape[:2]
    size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / max(w, 1))))
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.int16)


@dataclass
class DetectionGate:
    """``update(image) -> bool``: True when the person detector should run on this frame.

    every_k: in a moving scene, detect every k-th frame (1 = every frame).
    still_max_skip: in a still scene, detect at least every this many frames.
    motion_fraction: share of thumbnail pixels that must change for the scene to count as
        moving (0.004 of a 64×36 thumbnail is 9 pixels: a person 25 px wide at 480 px).
    pixel_delta: grey-level change of a thumbnail pixel that counts as a change.
    """

    every_k: int = 2
    still_max_skip: int = 12
    motion_fraction: float = 0.004
    pixel_delta: int = 12

    def __post_init__(self) -> None:
        if self.every_k < 1 or self.still_max_skip < self.every_k:
            raise ValueError("need 1 <= every_k <= still_max_skip")
        self._reference: np.ndarray | None = None
        self._shape: tuple[int, ...] = ()
        self.frames_since_detect = 0
        self.detected = 0
        self.skipped = 0

    def _moved(self, thumb: np.ndarray) -> bool:
        """Whether ``thumb`` differs from the thumbnail of the last detection."""
        assert self._reference is not None
        changed = np.count_nonzero(np.abs(thumb - self._reference) > self.pixel_delta)
        return changed >= self.motion_fraction * thumb.size

    def update(self, image: np.ndarray) -> bool:
        since = self.frames_since_detect + 1
        thumb: np.ndarray | None = None
        if (
            self._reference is None
            # A new resolution (camera reconfigured): predicted boxes are in the old pixels.
            or image.shape[:2] != self._shape
            or since >= self.still_max_skip
        ):
            detect = True
        elif since >= self.every_k:
            thumb = thumbnail(image)
            detect = self._moved(thumb)
        else:
            detect = False
        if detect:
            self._reference = thumb if thumb is not None else thumbnail(image)
            self._shape = image.shape[:2]
            self.frames_since_detect = 0
            self.detected += 1
        else:
            self.frames_since_detect = since
            self.skipped += 1
        return detect
