"""What a learned expression head sees of a face: one fixed-length vector.

The same function builds the vector when the head is trained
(``scripts/train_valence.py``) and when it reads a face in the pipeline, so the
two can never drift apart. From one MediaPipe FaceLandmarker pass over a face
crop it takes:

- the 52 blendshape scores (``_neutral`` included);
- 16 geometry ratios from the 478 landmarks, each divided by the inter-ocular
  distance after rotating the eye line level, so that they do not depend on the
  face's size or roll: mouth width/opening, lip-corner lift, brow height, eye
  opening, nasolabial and brow-gap distances (the cues FACS describes for
  AU1/2/4/6/9/12/15/20/25/26);
- the head pose (yaw, pitch, roll in degrees) from the facial transformation
  matrix: not an expression cue, but it lets the head learn that turned faces
  are read worse, and the reader abstains past ``MAX_YAW_DEG``.

No pixels, no embedding that could re-identify anyone: blendshapes and these
ratios describe a momentary expression and are shared by everyone who makes it.
Nothing here is stored: the vector lives for one reading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# MediaPipe face-mesh landmark indices (canonical 468-point mesh + irises).
EYE_OUTER = (33, 263)
EYE_INNER = (133, 362)
MOUTH_CORNERS = (61, 291)
LIP_UPPER_INNER, LIP_LOWER_INNER = 13, 14
LIP_UPPER_OUTER, LIP_LOWER_OUTER = 0, 17
BROW_MID = (105, 334)
BROW_INNER = (55, 285)
EYE_TOP = (159, 386)
EYE_BOTTOM = (145, 374)
NOSE_TIP, NOSE_BASE = 1, 2
NOSE_WINGS = (129, 358)
CHIN = 152

GEOMETRY_NAMES: tuple[str, ...] = (
    "mouth_width",
    "mouth_open_inner",
    "mouth_open_outer",
    "corner_lift_left",
    "corner_lift_right",
    "brow_mid_left",
    "brow_mid_right",
    "brow_inner_left",
    "brow_inner_right",
    "brow_gap",
    "eye_open_left",
    "eye_open_right",
    "nose_to_lip",
    "wing_to_corner_left",
    "wing_to_corner_right",
    "lip_to_chin",
)
POSE_NAMES: tuple[str, ...] = ("yaw_deg", "pitch_deg", "roll_deg")


@dataclass(frozen=True)
class FaceFeatures:
    """One face's features. ``blendshapes`` keeps MediaPipe's names and order."""

    blendshapes: dict[str, float]
    geometry: np.ndarray  # (len(GEOMETRY_NAMES),) float32
    pose: np.ndarray  # (3,) yaw, pitch, roll in degrees

    @property
    def yaw_deg(self) -> float:
        return float(self.pose[0])

    @property
    def pitch_deg(self) -> float:
        return float(self.pose[1])

    def vector(self, blendshape_names: tuple[str, ...]) -> np.ndarray:
        """Blendshapes in ``blendshape_names`` order, then geometry, then |pose|."""
        shapes = np.array([self.blendshapes.get(n, 0.0) for n in blendshape_names], np.float32)
        return np.concatenate([shapes, self.geometry, np.abs(self.pose) / 45.0]).astype(np.float32)


def geometry_ratios(points: np.ndarray) -> np.ndarray:
    """The 16 ratios from (≥ 468, 2) landmark pixels; see the module docstring."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    left_eye = (p[EYE_OUTER[0]] + p[EYE_INNER[0]]) / 2
    right_eye = (p[EYE_OUTER[1]] + p[EYE_INNER[1]]) / 2
    axis = right_eye - left_eye
    iod = float(np.hypot(*axis))
    if iod < 1e-6:
        return np.zeros(len(GEOMETRY_NAMES), np.float32)
    # Rotate so the eye line is level (roll removed), origin between the eyes,
    # unit = inter-ocular distance; image y grows downwards.
    c, s = axis / iod
    rot = np.array([[c, s], [-s, c]])
    q = (p - (left_eye + right_eye) / 2) @ rot.T / iod

    def dist(a: int, b: int) -> float:
        return float(np.hypot(*(q[a] - q[b])))

    lip_mid_y = (q[LIP_UPPER_INNER, 1] + q[LIP_LOWER_INNER, 1]) / 2
    values = [
        dist(*MOUTH_CORNERS),
        dist(LIP_UPPER_INNER, LIP_LOWER_INNER),
        dist(LIP_UPPER_OUTER, LIP_LOWER_OUTER),
        lip_mid_y - q[MOUTH_CORNERS[0], 1],  # > 0: corner above the lip centre (smile)
        lip_mid_y - q[MOUTH_CORNERS[1], 1],
        q[EYE_TOP[0], 1] - q[BROW_MID[0], 1],
        q[EYE_TOP[1], 1] - q[BROW_MID[1], 1],
        q[EYE_INNER[0], 1] - q[BROW_INNER[0], 1],
        q[EYE_INNER[1], 1] - q[BROW_INNER[1], 1],
        dist(*BROW_INNER),
        dist(EYE_TOP[0], EYE_BOTTOM[0]),
        dist(EYE_TOP[1], EYE_BOTTOM[1]),
        dist(NOSE_BASE, LIP_UPPER_OUTER),
        dist(NOSE_WINGS[0], MOUTH_CORNERS[0]),
        dist(NOSE_WINGS[1], MOUTH_CORNERS[1]),
        dist(LIP_LOWER_OUTER, CHIN),
    ]
    return np.asarray(values, dtype=np.float32)


def pose_from_matrix(matrix: np.ndarray | None) -> np.ndarray:
    """(yaw, pitch, roll) in degrees from MediaPipe's 4×4 facial transformation."""
    if matrix is None:
        return np.zeros(3, np.float32)
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    # Remove scale, then the usual Y-X-Z Euler decomposition.
    r = r / np.cbrt(max(abs(np.linalg.det(r)), 1e-12))
    yaw = math.degrees(math.atan2(-r[2, 0], math.hypot(r[2, 1], r[2, 2])))
    pitch = math.degrees(math.atan2(r[2, 1], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[0, 0]))
    return np.array([yaw, pitch, roll], dtype=np.float32)
