"""Per-camera tracking with Ultralytics' ByteTrack.

The detector is shared by all cameras, so tracking cannot live inside
``model.track`` (its tracker is attached to the shared predictor and would mix
cameras). Each camera owns one :class:`PersonTracker` instead. ByteTrack was the
fastest of ultralytics' trackers here (STACK-NOTES.md) and needs no ReID model.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from storelens.detectors.types import PERSON_CLASS_ID, Detections


class _BoxesView:
    """The minimal numpy view of detections that BYTETracker.update reads."""

    def __init__(self, detections: Detections) -> None:
        xyxy = detections.xyxy
        self.conf = detections.confidence
        self.cls = detections.class_id.astype(np.float32)
        self.xywh = (
            np.stack(
                [
                    (xyxy[:, 0] + xyxy[:, 2]) / 2,
                    (xyxy[:, 1] + xyxy[:, 3]) / 2,
                    xyxy[:, 2] - xyxy[:, 0],
                    xyxy[:, 3] - xyxy[:, 1],
                ],
                axis=1,
            )
            if len(xyxy)
            else np.zeros((0, 4), dtype=np.float32)
        )
        self.xyxy = xyxy

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask: np.ndarray) -> _BoxesView:
        view = object.__new__(_BoxesView)
        view.conf, view.cls, view.xywh, view.xyxy = (
            self.conf[mask],
            self.cls[mask],
            self.xywh[mask],
            self.xyxy[mask],
        )
        return view


class PersonTracker:
    """``update(detections) -> detections`` with ``tracker_id`` filled.

    ``track_buffer_s`` is how long a lost track is kept for re-association (short
    occlusions), converted to frames from the analysed frame rate.
    """

    def __init__(self, analysed_fps: float = 10.0, track_buffer_s: float = 3.0) -> None:
        from ultralytics.trackers.byte_tracker import BYTETracker

        args = SimpleNamespace(
            tracker_type="bytetrack",
            track_high_thresh=0.3,
            track_low_thresh=0.1,
            new_track_thresh=0.4,
            track_buffer=max(1, round(analysed_fps * track_buffer_s)),
            # 0.9 (ultralytics: 0.8) re-associates a shopper who was fully occluded for ~0.5 s
            # in store-aisle-detection.gif instead of starting a new id (measured: 4 -> 3 tracks).
            match_thresh=0.9,
            fuse_score=True,
        )
        self._tracker = BYTETracker(args)
        self._frames_per_update = 1  # camera frames between the last two updates

    def predict(self, frames_since_update: int) -> Detections:
        """The tracked people ``frames_since_update`` camera frames after the last update,
        from each track's Kalman state, without changing the tracker.

        For frames the person detector skipped (detectors/gating.py). ByteTrack's velocity is
        per update; updates may be k frames apart, so the step is scaled to frames.
        """
        from ultralytics.trackers.basetrack import TrackState

        tracks = [
            t
            for t in self._tracker.tracked_stracks
            if t.is_activated and t.state == TrackState.Tracked and t.mean is not None
        ]
        if not tracks:
            return Detections.empty()
        means = np.stack([t.mean for t in tracks]).astype(np.float64)
        step = frames_since_update / max(1, self._frames_per_update)
        cx, cy, aspect, height = (means[:, :4] + step * means[:, 4:8]).T
        height = np.maximum(height, 1.0)
        width = aspect * height
        xyxy = np.stack([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2], 1)
        return Detections(
            xyxy=xyxy.astype(np.float32),
            confidence=np.array([t.score for t in tracks], dtype=np.float32),
            class_id=np.full(len(tracks), PERSON_CLASS_ID, dtype=np.int32),
            tracker_id=np.array([t.track_id for t in tracks], dtype=np.int64),
        )

    def note_gap(self, frames: int) -> None:
        """Camera frames since the previous update (1 when every frame is detected)."""
        self._frames_per_update = max(1, frames)

    def update(self, detections: Detections) -> Detections:
        if len(detections) == 0:
            self._tracker.update(_BoxesView(detections))
            return detections
        tracked = self._tracker.update(_BoxesView(detections))
        ids = np.full(len(detections), -1, dtype=np.int64)
        if len(tracked):
            idx = tracked[:, 7].astype(int)
            ids[idx] = tracked[:, 4].astype(np.int64)
            # Tracked boxes are Kalman-smoothed: steadier feet points for lines and zones.
            detections.xyxy[idx] = tracked[:, :4].astype(np.float32)
        detections.tracker_id = ids
        return detections
