"""A second box on one person: an untracked box lying inside a tracked person's box.

Why (issue 21): on vtest.avi frames 490–544 cropped to columns 325–444 and rows 355–575
(two people walking together, the man cut by the crop's left edge), the person model
gave the man a whole-body box and, for one frame, a second box on his visible half
at the edge; "most people at once" read 3 for 2 people. Over the whole of vtest.avi,
such a box (tracker id ``NO_TRACK``, 64–100 % of its area inside a tracked box) came
6 times. It is not the detector's NMS to fix: NMS compares IoU, and a box inside a
bigger one has a small IoU; nor can the detector drop boxes inside others, since real
people behind others do that (store-aisle-detection.gif: a shopper's box 72–82 %
inside the box of the shopper in front, both tracked, both real).

The tracker knows more: a detection it could not match to a track and that lies
mostly inside a tracked person is that person's part, not a newcomer. A real newcomer
there is only delayed: ByteTrack confirms it on its next detection, and then it has
an id and stays. Untracked boxes elsewhere are kept (an untracked person is still a
person for zone occupancy, ``detectors/events.py``).
"""

from __future__ import annotations

import numpy as np
from storelens.detectors.types import NO_TRACK, Detections

MIN_INSIDE = 0.6  # share of the untracked box's area inside a tracked box; measured 0.64–1.0


def drop_untracked_duplicates(dets: Detections, min_inside: float = MIN_INSIDE) -> Detections:
    """``dets`` without the untracked rows that lie mostly inside a tracked row's box."""
    untracked = dets.tracker_id == NO_TRACK
    if not untracked.any() or untracked.all():
        return dets
    loose, held = dets.xyxy[untracked], dets.xyxy[~untracked]
    ix = np.clip(
        np.minimum(loose[:, None, 2], held[None, :, 2])
        - np.maximum(loose[:, None, 0], held[None, :, 0]),
        0,
        None,
    )
    iy = np.clip(
        np.minimum(loose[:, None, 3], held[None, :, 3])
        - np.maximum(loose[:, None, 1], held[None, :, 1]),
        0,
        None,
    )
    area = np.maximum((loose[:, 2] - loose[:, 0]) * (loose[:, 3] - loose[:, 1]), 1e-6)
    inside = (ix * iy).max(axis=1) / area
    keep = np.ones(len(dets), dtype=bool)
    keep[np.flatnonzero(untracked)[inside >= min_inside]] = False
    return dets if keep.all() else dets[keep]
