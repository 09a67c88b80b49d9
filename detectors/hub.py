"""The latest tile JPEG and status per camera, shared between the runner's display
thread (writer) and the stream server (readers).

Only the newest frame per camera is kept, in memory: no frame history, nothing on
disk, and only its blurred form: StoreLens shows no unblurred faces, to any role.
Readers block on a condition until a newer frame than the one they have arrives, so
an MJPEG client costs nothing while the picture does not change.
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
    jpeg: bytes  # blurred by detectors/display.py


class FrameHub:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frames: dict[str, TileFrame] = {}
        self._status: dict[str, CameraStatus] = {}

    def publish(self, camera_id: str, ts: float, jpeg: bytes) -> None:
        with self._cond:
            previous = self._frames.get(camera_id)
            seq = previous.seq + 1 if previous else 1
            self._frames[camera_id] = TileFrame(seq, ts, jpeg)
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

    def camera_ids(self) -> list[str]:
        with self._cond:
            return sorted(set(self._frames) | set(self._status))
