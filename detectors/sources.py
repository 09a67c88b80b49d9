"""Camera sources behind one interface, and a capture thread per camera.

:func:`open_source` turns a config ``source`` string into a :class:`FrameSource`:

* a video file or GIF (``store.gif``, ``clip.mp4``): looped by reopening at the end, paced
  at the file's own frame rate (``realtime=True``) or read as fast as possible;
* a folder of images (sorted by name), paced at ``folder_fps``;
* ``rtsp://``, ``rtsps://``, ``http://``, ``https://`` (MJPEG or any stream FFmpeg reads)
  through OpenCV's FFmpeg backend, with open and read timeouts passed at open time: that is
  the only moment OpenCV takes them, and without them a dead camera blocks ``read()``
  for ~30 s;
* a webcam index (``0``, ``1`` ...).

:class:`CaptureWorker` runs one source in a daemon thread and keeps only the newest frame
(one slot; a frame overwritten before anyone took it counts as dropped), so analysis never
falls behind the camera and memory never grows. It reconnects with capped exponential
backoff and jitter, and keeps a :class:`~detectors.types.CameraStatus`.

Credentials never leave this module in clear: every spec and error message shown in a
status goes through :func:`mask_url` (``rtsp://user:***@host/...``).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import os
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from storelens.detectors.errors import SourceError
from storelens.detectors.types import CameraState, CameraStatus, Frame
from storelens.kernel.redact import mask_url

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# FFmpeg reads this when a capture opens; TCP because RTSP over UDP loses packets (grey
# smeared frames) on the Wi-Fi and VPN links store cameras tend to sit behind.
FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
DEFAULT_FFMPEG_OPTIONS = "rtsp_transport;tcp"

# Set once at import, from the importing (main) thread: setenv while another thread's
# capture reads the environment is not thread-safe in C. A value the user set wins.
os.environ.setdefault(FFMPEG_OPTIONS_ENV, DEFAULT_FFMPEG_OPTIONS)


def _scrub(message: str, spec: str) -> str:
    """An error message safe to show: the raw spec replaced, any other URL masked."""
    return mask_url(message.replace(spec, mask_url(spec)) if spec else message)


class _Pacer:
    """Sleeps so that frames come out at ``fps``; never bursts to catch up after a stall."""

    def __init__(self, fps: float, enabled: bool) -> None:
        self.period = 1.0 / fps if enabled and fps > 0 else 0.0
        self._due: float | None = None

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._due is None or now - self._due > self.period:
            self._due = now  # first frame, or we fell behind: restart the schedule
        elif self._due > now:
            time.sleep(self._due - now)
        self._due += self.period


class FrameSource(ABC):
    """One camera's frames. ``read()`` returns a BGR uint8 image, or None when no frame
    came: the end of a finite source (``ended`` is then True) or a live stream that lost
    its connection or timed out (``ended`` stays False; reopen to reconnect)."""

    kind: str = "source"
    live: bool = False

    def __init__(self, spec: str, fps: float) -> None:
        self.spec = spec
        self.description = mask_url(spec)
        self.fps = fps  # native frame rate; 0.0 when the source does not say
        self.ended = False

    @abstractmethod
    def read(self) -> np.ndarray | None: ...

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description} fps={self.fps:.2f}>"


def _ffmpeg_capture(url: str, open_timeout_s: float, read_timeout_s: float) -> cv2.VideoCapture:
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(read_timeout_s * 1000),
    ]
    return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


class VideoFileSource(FrameSource):
    """A video file or animated GIF; loops by reopening (seeking GIFs is unreliable)."""

    kind = "file"

    def __init__(self, path: Path, *, realtime: bool, loop: bool) -> None:
        self.path = path
        self.loop = loop
        self.loops = 0
        self._cap = self._open()
        super().__init__(str(path), float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0))
        self._pacer = _Pacer(self.fps or 25.0, realtime)
        self._frames_this_pass = 0

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"{self.path}: cannot decode this file as video (is it a video or GIF, "
                "and complete?); convert it with ffmpeg or point the camera elsewhere"
            )
        return cap

    def read(self) -> np.ndarray | None:
        if self.ended:
            return None
        ok, image = self._cap.read()
        if not ok:
            if not self.loop or self._frames_this_pass == 0:
                self.ended = True  # an empty pass would loop forever without a frame
                return None
            self._cap.release()
            self._cap = self._open()
            self.loops += 1
            self._frames_this_pass = 0
            ok, image = self._cap.read()
            if not ok:
                self.ended = True
                return None
        self._frames_this_pass += 1
        self._pacer.wait()
        return image

    def close(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Images in a folder, in name order; unreadable files are counted and skipped."""

    kind = "folder"

    def __init__(self, folder: Path, *, realtime: bool, loop: bool, fps: float = 10.0) -> None:
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise SourceError(
                f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in this folder; "
                "add frames or point the camera elsewhere"
            )
        super().__init__(str(folder), fps)
        self.loop = loop
        self.unreadable = 0
        self._next = 0
        self._pacer = _Pacer(fps, realtime)

    def read(self) -> np.ndarray | None:
        failures = 0
        while not self.ended:
            if self._next >= len(self.files):
                if not self.loop:
                    self.ended = True
                    return None
                self._next = 0
            path = self.files[self._next]
            self._next += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                self._pacer.wait()
                return image
            self.unreadable += 1
            failures += 1
            if failures >= len(self.files):
                self.ended = True  # every file is unreadable: stop instead of spinning
        return None

    def close(self) -> None:
        pass


class StreamSource(FrameSource):
    """RTSP / HTTP(S) through FFmpeg, or a webcam; a failed read means "reconnect"."""

    live = True

    def __init__(
        self,
        spec: str,
        *,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
    ) -> None:
        masked = mask_url(spec)
        if spec.isdigit():
            self.kind = "webcam"
            index = int(spec)
            cap = cv2.VideoCapture(index)
            hint = f"webcam {index}: no such camera or no permission (is /dev/video{index} there?)"
        else:
            self.kind = spec.split("://", 1)[0].lower()
            cap = _ffmpeg_capture(spec, open_timeout_s, read_timeout_s)
            hint = (
                f"{masked}: cannot open the stream (refused, unauthorised, not a video "
                f"stream, or no answer within {open_timeout_s:g} s); check the address, "
                "credentials and that the camera is reachable"
            )
        if not cap.isOpened():
            cap.release()
            raise SourceError(hint)
        super().__init__(spec, float(cap.get(cv2.CAP_PROP_FPS) or 0.0))
        self._cap = cap

    def read(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        return image if ok else None

    def close(self) -> None:
        self._cap.release()


def open_source(
    spec: str,
    *,
    realtime: bool = True,
    loop: bool = True,
    open_timeout_s: float = 5.0,
    read_timeout_s: float = 5.0,
    folder_fps: float = 10.0,
) -> FrameSource:
    """Open a camera source from its config string; raises :class:`SourceError`."""
    spec = spec.strip()
    if not spec:
        raise SourceError(
            "empty camera source; give a file, folder, rtsp:// or http:// URL, or index"
        )
    if spec.lower().startswith(STREAM_SCHEMES) or spec.isdigit():
        return StreamSource(spec, open_timeout_s=open_timeout_s, read_timeout_s=read_timeout_s)
    if "://" in spec:
        raise SourceError(
            f"{mask_url(spec)}: unsupported scheme; use rtsp://, rtsps://, http:// or https://"
        )
    path = Path(spec).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, realtime=realtime, loop=loop, fps=folder_fps)
    if path.is_file():
        return VideoFileSource(path, realtime=realtime, loop=loop)
    raise SourceError(f"{path}: no such file or folder; check the camera's source path")


Opener = Callable[[str], FrameSource]


def backoff_delay(attempt: int, initial_s: float, max_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): doubling from
    ``initial_s``, capped at ``max_s``, times a jitter in [0.5, 1) so that cameras that
    failed together (a switch rebooted) do not all retry in lockstep."""
    base = min(max_s, initial_s * 2 ** min(attempt, 30))
    return base * (0.5 + 0.5 * rng.random())


class CaptureWorker:
    """One camera's capture thread: newest frame only, reconnects, live status.

    ``latest()`` hands out the newest frame not yet consumed (None if nothing new);
    ``latest(consume=False)`` peeks at the newest frame seen, consumed or not.
    ``on_frame`` (optional) is called in the capture thread for every accepted frame; it
    must be quick, and its exceptions are logged and counted, never fatal.

    State machine: RECONNECTING while (re)connecting, ONLINE once frames flow, back to
    RECONNECTING when reads fail, OFFLINE when no frame has come for ``offline_after_s``
    (retries go on, with backoff capped at ``backoff_max_s``), and OFFLINE for good
    when a finite source ends or the worker is stopped.
    """

    def __init__(
        self,
        camera_id: str,
        name: str,
        source_spec: str,
        *,
        realtime: bool = True,
        loop: bool = True,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        offline_after_s: float = 10.0,
        resolution_settle_frames: int = 3,
        on_frame: Callable[[Frame], None] | None = None,
        opener: Opener | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        self.camera_id = camera_id
        self.name = name
        self.source_spec = source_spec
        self.on_frame = on_frame
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.offline_after_s = offline_after_s
        self.resolution_settle_frames = max(1, resolution_settle_frames)
        self._opener: Opener = opener or (
            lambda spec: open_source(
                spec,
                realtime=realtime,
                loop=loop,
                open_timeout_s=open_timeout_s,
                read_timeout_s=read_timeout_s,
            )
        )
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._slot: Frame | None = None
        self._newest: Frame | None = None
        self._status = CameraStatus(camera_id=camera_id, name=name)
        self._frame_times: collections.deque[float] = collections.deque(maxlen=30)
        self._index = 0
        self._shape: tuple[int, ...] | None = None
        self._candidate_shape: tuple[int, ...] | None = None
        self._candidate_count = 0
        self.frames_captured = 0
        self.corrupt_frames = 0
        self.resolution_changes = 0
        self.callback_errors = 0
        self.connect_attempts = 0

    # ------------------------------------------------------------------ public API

    def start(self) -> CaptureWorker:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._set_state(CameraState.RECONNECTING)
        self._thread = threading.Thread(
            target=self._run, name=f"capture-{self.camera_id}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` s; True when it has ended.

        A thread blocked inside a stream read ends by itself within the read timeout
        (closing a capture from another thread is unsafe in OpenCV); it is a daemon,
        so it can never keep the process alive.
        """
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                log.warning(
                    "capture %s: thread still in a read after %.1f s", self.camera_id, timeout
                )
                return False
        self._set_state(CameraState.OFFLINE)
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def latest(self, consume: bool = True) -> Frame | None:
        with self._lock:
            if not consume:
                return self._newest
            frame, self._slot = self._slot, None
            return frame

    def report_analysed_fps(self, fps: float) -> None:
        """The pipeline tells the worker how fast this camera is analysed (shown in status)."""
        with self._lock:
            self._status.analysed_fps = float(fps)

    def status(self) -> CameraStatus:
        """A copy of the status (safe to read while the thread updates its own)."""
        with self._lock:
            copy = dataclasses.replace(self._status)
        if copy.state is not CameraState.ONLINE:
            copy.capture_fps = 0.0  # the last measured rate would be a lie while down
        copy.corrupt_frames = self.corrupt_frames
        copy.resolution_changes = self.resolution_changes
        return copy

    # ------------------------------------------------------------------ thread

    def _set_state(self, state: CameraState, error: str | None = None) -> None:
        with self._lock:
            if self._status.state is not state:
                self._status.state = state
                self._status.since = time.time()
            if error is not None:
                self._status.last_error = _scrub(error, self.source_spec)

    def _run(self) -> None:
        attempt = 0
        opened_before = False
        last_progress = time.monotonic()  # last frame, or the start
        while not self._stop.is_set():
            self.connect_attempts += 1
            try:
                source = self._opener(self.source_spec)
            except SourceError as exc:
                self._on_failure(str(exc), last_progress)
            except Exception as exc:  # a library error must not kill the camera's thread
                self._on_failure(f"{type(exc).__name__}: {exc}", last_progress)
            else:
                if opened_before:
                    with self._lock:
                        self._status.reconnects += 1
                opened_before = True
                self._frame_times.clear()  # fps spans this connection only
                try:
                    got_frames, ended = self._pump(source)
                finally:
                    with contextlib.suppress(Exception):
                        source.close()
                if got_frames:
                    attempt = 0
                    last_progress = time.monotonic()
                if ended:
                    self._set_state(CameraState.OFFLINE, "end of stream (source does not loop)")
                    return
                if self._stop.is_set():
                    break
                self._on_failure(
                    f"{mask_url(self.source_spec)}: stream stopped delivering frames", last_progress
                )
            delay = backoff_delay(attempt, self.backoff_initial_s, self.backoff_max_s, self._rng)
            attempt = min(attempt + 1, 30)
            self._stop.wait(delay)
        self._set_state(CameraState.OFFLINE)

    def _on_failure(self, message: str, last_progress: float) -> None:
        offline = time.monotonic() - last_progress >= self.offline_after_s
        self._set_state(CameraState.OFFLINE if offline else CameraState.RECONNECTING, message)
        log.info("capture %s: %s", self.camera_id, _scrub(message, self.source_spec))

    def _pump(self, source: FrameSource) -> tuple[bool, bool]:
        """Read until the source fails, ends or we stop; returns (got_frames, ended)."""
        got = False
        while not self._stop.is_set():
            try:
                image = source.read()
            except Exception as exc:
                self._set_state(
                    CameraState.RECONNECTING, f"read failed: {type(exc).__name__}: {exc}"
                )
                return got, False
            if image is None:
                return got, source.ended and not source.live
            image = self._accept(image)
            if image is None:
                continue
            got = True
            self._publish(image)
        return got, False

    def _accept(self, image: np.ndarray) -> np.ndarray | None:
        """The frame as BGR uint8, or None (counted) when corrupt or of a passing size."""
        if not isinstance(image, np.ndarray) or image.size == 0 or image.dtype != np.uint8:
            self.corrupt_frames += 1
            return None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        elif image.ndim == 3 and image.shape[2] == 4:
            image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        elif image.ndim != 3 or image.shape[2] != 3:
            self.corrupt_frames += 1
            return None
        shape = image.shape
        if self._shape is None:
            self._shape = shape
        elif shape != self._shape:
            # One odd-sized frame is garbage; a size that persists is a camera that was
            # reconfigured, and is adopted after a few frames instead of dropped forever.
            if shape == self._candidate_shape:
                self._candidate_count += 1
            else:
                self._candidate_shape, self._candidate_count = shape, 1
                self.resolution_changes += 1
            if self._candidate_count < self.resolution_settle_frames:
                return None
            self._shape, self._candidate_shape, self._candidate_count = shape, None, 0
        else:
            self._candidate_shape, self._candidate_count = None, 0
        return image

    def _publish(self, image: np.ndarray) -> None:
        now = time.time()
        mono = time.monotonic()
        self._frame_times.append(mono)
        frame = Frame(self.camera_id, now, self._index, image)
        self._index += 1
        self.frames_captured += 1
        with self._lock:
            if self._slot is not None:
                self._status.dropped_frames += 1
            self._slot = frame
            self._newest = frame
            status = self._status
            if status.state is not CameraState.ONLINE:
                status.state = CameraState.ONLINE
                status.since = now
            status.last_frame_ts = now
            if len(self._frame_times) >= 2:
                span = self._frame_times[-1] - self._frame_times[0]
                status.capture_fps = (len(self._frame_times) - 1) / span if span > 0 else 0.0
        if self.on_frame is not None:
            try:
                self.on_frame(frame)
            except Exception:
                self.callback_errors += 1
                log.exception("capture %s: on_frame callback failed", self.camera_id)
