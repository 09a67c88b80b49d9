"""Is a face detection a face turned towards the camera? A check on YuNet's five landmarks.

Why (issue 21): YuNet fires on the backs and sides of heads. On vtest.avi frames 620–719
(one woman walking away from the camera, ``tests/test_counts.py``) it found 3 "faces",
on store-aisle-detection.gif (three shoppers seen from behind or in profile, never
facing the camera) 15, and each became an expression reading feeding the satisfaction
index. Those detections have a tell: their landmarks do not make a face seen from the
front. Measured on every 3rd–5th frame of the shared clips (score ≥ 0.6 as now):

- faces seen from the front or three-quarter (face-demographics-walking, classroom,
  head-pose-face-detection-female-and-male): eye distance 0.24–0.49 of the box width,
  nose between the eyes (0.15–1.04 of the eye span, 0 = one eye, 1 = the other);
- the backs and profiles in store-aisle-detection.gif: eye distance 0.09–0.23, nose
  −0.8 to 7.2 of the span (outside the eyes: a profile, or landmarks placed on hair).

So a face is "facing" only with eye distance ≥ ``MIN_EYE_RATIO`` of its width, the nose
no further outside the eyes than ``NOSE_MARGIN`` of their span, and eyes above the mouth.
The face detector still reports the others (Ancelotti's near-profile in zidane.jpg,
eye distance 0.20, is a real face); the pipeline reads expressions only from facing
faces, since a profile or the back of a head is no face to read an expression from.
"""

from __future__ import annotations

import numpy as np

MIN_EYE_RATIO = 0.25  # eye distance / face box width; profiles and backs of heads < 0.24
NOSE_MARGIN = 0.3  # nose x may lie this share of the eye span outside the eyes (3/4 view)


def facing_camera(faces: np.ndarray) -> np.ndarray:
    """(K,) bool for YuNet rows ``[x, y, w, h, re_x, re_y, le_x, le_y, nose_x, nose_y,
    rm_x, rm_y, lm_x, lm_y, score]``: True where the landmarks make a face seen from the
    front or three-quarter (see the module docstring for the thresholds' measurements)."""
    faces = np.asarray(faces, dtype=np.float32).reshape(-1, 15)
    width = np.maximum(faces[:, 2], 1e-3)
    right_eye, left_eye, nose = faces[:, 4:6], faces[:, 6:8], faces[:, 8:10]
    mouth_y = (faces[:, 11] + faces[:, 13]) / 2
    eye_y = (right_eye[:, 1] + left_eye[:, 1]) / 2
    eye_distance = np.hypot(*(left_eye - right_eye).T)
    lo = np.minimum(right_eye[:, 0], left_eye[:, 0])
    span = np.maximum(np.abs(left_eye[:, 0] - right_eye[:, 0]), 1e-3)
    nose_at = (nose[:, 0] - lo) / span
    return (
        (eye_distance >= MIN_EYE_RATIO * width)
        & (nose_at >= -NOSE_MARGIN)
        & (nose_at <= 1 + NOSE_MARGIN)
        & (eye_y < mouth_y)
    )
