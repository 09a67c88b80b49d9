"""Core types that flow through the detectors room.

One :class:`Detections` value of parallel arrays travels through every stage
(detect -> track -> faces -> expressions -> events -> overlay), in the manner of
supervision's ``sv.Detections``: stages filter it with boolean masks and add
columns to ``data`` instead of inventing their own containers. Model adapters are
the only code that sees raw model outputs.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PERSON_CLASS_ID = 0
NO_TRACK = -1


class Valence(enum.StrEnum):
    """What an expression reading means for the store."""

    SATISFIED = "satisfied"
    NEUTRAL = "neutral"
    FRUSTRATED = "frustrated"
    UNKNOWN = "unknown"


# The three valences a reading can have, in the order of a head's probability columns.
VALENCES: tuple[Valence, ...] = (Valence.SATISFIED, Valence.NEUTRAL, Valence.FRUSTRATED)
# The expression label of a face that was not read (too small, abstained, no face).
UNKNOWN_LABEL = "unknown"


class TrackEvent(enum.StrEnum):
    """Kinds of events a track produces (see DESIGN.md, "Core types")."""

    ENTER = "enter"
    EXIT = "exit"
    ZONE_ENTER = "zone_enter"
    ZONE_EXIT = "zone_exit"
    QUEUE_JOIN = "queue_join"
    QUEUE_LEAVE = "queue_leave"
    EXPRESSION = "expression"
    ALERT = "alert"


class CameraState(enum.StrEnum):
    ONLINE = "online"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. ``ts`` is UTC epoch seconds; ``image`` is BGR uint8."""

    camera_id: str
    ts: float
    index: int
    image: np.ndarray


# A camera analysed below this share of its target rate is reported degraded. 0.9, not 1:
# the analysed rate is measured over the last 30 frames and wobbles by a few per cent.
DEGRADED_SHARE = 0.9


@dataclass(slots=True)
class CameraStatus:
    """Health of one camera, shown on its tile and exported as metrics."""

    camera_id: str
    name: str = ""
    state: CameraState = CameraState.OFFLINE
    capture_fps: float = 0.0
    analysed_fps: float = 0.0
    dropped_frames: int = 0
    reconnects: int = 0
    last_frame_ts: float | None = None
    last_error: str = ""
    since: float = field(default_factory=time.time)
    corrupt_frames: int = 0
    resolution_changes: int = 0
    # The analysed rate the runner aims at: capture fps capped at max_fps_per_camera (0:
    # not known yet). Below DEGRADED_SHARE of it the camera is "degraded": the box is past
    # its capacity and every camera is analysed at a lower rate (issue 21).
    target_fps: float = 0.0

    @property
    def analysed_share(self) -> float | None:
        """Analysed fps ÷ target fps (None until both are known)."""
        if self.target_fps <= 0 or self.state != CameraState.ONLINE:
            return None
        return min(1.0, self.analysed_fps / self.target_fps)

    @property
    def degraded(self) -> bool:
        share = self.analysed_share
        return share is not None and share < DEGRADED_SHARE

    def last_frame_age(self, now: float | None = None) -> float | None:
        if self.last_frame_ts is None:
            return None
        return (time.time() if now is None else now) - self.last_frame_ts

    def as_dict(self, now: float | None = None) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id,
            "name": self.name,
            "state": str(self.state),
            "capture_fps": round(self.capture_fps, 2),
            "analysed_fps": round(self.analysed_fps, 2),
            "dropped_frames": self.dropped_frames,
            "reconnects": self.reconnects,
            "last_frame_age_s": self.last_frame_age(now),
            "last_error": self.last_error,
            "since": self.since,
            "corrupt_frames": self.corrupt_frames,
            "resolution_changes": self.resolution_changes,
            "target_fps": round(self.target_fps, 2),
            "analysed_share": None if (share := self.analysed_share) is None else round(share, 3),
            "degraded": self.degraded,
        }


def _as_array(value: Any, dtype: Any, shape_tail: tuple[int, ...] = ()) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.size == 0:
        return np.zeros((0, *shape_tail), dtype=dtype)
    return arr.reshape((-1, *shape_tail))


@dataclass
class Detections:
    """Parallel arrays describing N objects in one frame.

    ``xyxy`` (N, 4) float32 pixel boxes; ``confidence`` (N,) float32; ``class_id``
    (N,) int32; ``tracker_id`` (N,) int64 with ``NO_TRACK`` where the tracker gave
    no id. ``data`` holds extra per-object columns of length N, e.g. ``face_xyxy``
    (N, 4, NaN where no face), ``expression`` (label), ``valence``,
    ``expression_confidence``.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    tracker_id: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    data: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.xyxy = _as_array(self.xyxy, np.float32, (4,))
        n = len(self.xyxy)
        self.confidence = _as_array(self.confidence, np.float32)
        self.class_id = _as_array(self.class_id, np.int32)
        if len(self.tracker_id) == 0 and n:
            self.tracker_id = np.full(n, NO_TRACK, dtype=np.int64)
        else:
            self.tracker_id = _as_array(self.tracker_id, np.int64)
        for name, column in (
            ("confidence", self.confidence),
            ("class_id", self.class_id),
            ("tracker_id", self.tracker_id),
            *self.data.items(),
        ):
            if len(column) != n:
                raise ValueError(f"Detections column {name!r} has {len(column)} rows, xyxy has {n}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: Any) -> Detections:
        """Select rows by boolean mask, integer array or slice (always a Detections)."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return Detections(
            xyxy=self.xyxy[index],
            confidence=self.confidence[index],
            class_id=self.class_id[index],
            tracker_id=self.tracker_id[index],
            data={k: v[index] for k, v in self.data.items()},
        )

    @property
    def bottom_center(self) -> np.ndarray:
        """(N, 2) feet points: the bottom-centre of each box, used by lines and zones."""
        x = (self.xyxy[:, 0] + self.xyxy[:, 2]) / 2
        return np.stack([x, self.xyxy[:, 3]], axis=1)

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def with_column(self, name: str, values: np.ndarray) -> Detections:
        """Return self with one more (or replaced) ``data`` column; checks its length."""
        values = np.asarray(values)
        if len(values) != len(self):
            raise ValueError(f"column {name!r} has {len(values)} rows, detections have {len(self)}")
        self.data[name] = values
        return self
