"""The latest annotated JPEG and status per camera, shared between the analysis
threads (writers) and the stream server (readers).

Only the newest frame per camera is kept, in memory: no frame history, nothing
on disk. Readers block on a condition until a newer frame than the one they have
arrives, so an MJPEG client costs nothing while the picture does not change.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from storelens.detectors.types import CameraStatus


@dataclass(frozen=True)
class TileFrame:
    seq: int
    ts: float
    jpeg_blurred: bytes
    jpeg_faces: bytes | None  # unblurred variant, only while someone allowed to see faces watches


class FrameHub:
    def __init__(self, faces_demand_window_s: float = 10.0) -> None:
        self._cond = threading.Condition()
        self._frames: dict[str, TileFrame] = {}
        self._status: dict[str, CameraStatus] = {}
        self._faces_demand: dict[str, float] = {}
        self._faces_window = faces_demand_window_s

    def publish(
        self, camera_id: str, ts: float, jpeg_blurred: bytes, jpeg_faces: bytes | None
    ) -> None:
        with self._cond:
            previous = self._frames.get(camera_id)
            seq = previous.seq + 1 if previous else 1
            self._frames[camera_id] = TileFrame(seq, ts, jpeg_blurred, jpeg_faces)
            self._cond.notify_all()

    def set_status(self, status: CameraStatus) -> None:
        with self._cond:
            self._status[status.camera_id] = status

    def statuses(self) -> dict[str, CameraStatus]:
        with self._cond:
            return dict(self._status)

    def latest(self, camera_id: str) -> TileFrame | None:
        with self._cond:
            return self._frames.get(camera_id)

    def wait_newer(self, camera_id: str, after_seq: int, timeout: float) -> TileFrame | None:
        """The camera's frame once its seq exceeds ``after_seq``, or None on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                frame = self._frames.get(camera_id)
                if frame is not None and frame.seq > after_seq:
                    return frame
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)

    def want_faces(self, camera_id: str) -> None:
        """A viewer allowed to see faces is watching: keep an unblurred variant for a while."""
        with self._cond:
            self._faces_demand[camera_id] = time.monotonic()

    def faces_wanted(self, camera_id: str) -> bool:
        with self._cond:
            since = self._faces_demand.get(camera_id)
        return since is not None and time.monotonic() - since < self._faces_window

    def camera_ids(self) -> list[str]:
        with self._cond:
            return sorted(set(self._frames) | set(self._status))
