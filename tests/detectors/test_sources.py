"""Every source kind against real inputs: shared GIFs, a folder of JPEGs, an MJPEG HTTP
server in a thread, and a real RTSP server (GStreamer) in a subprocess."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.detectors.errors import SourceError
from storelens.detectors.sources import (
    CaptureWorker,
    FrameSource,
    ImageFolderSource,
    StreamSource,
    VideoFileSource,
    backoff_delay,
    mask_url,
    open_source,
)
from storelens.detectors.types import CameraState, Frame

# Frame counts from ../shared/media/README.md, checked by hand with ffprobe.
GIF_FRAMES = [
    ("store-aisle-detection.gif", 67),
    ("people-detection.gif", 23),
    ("face-demographics-walking.gif", 35),
    ("head-pose-face-detection-female-and-male.gif", 56),
    ("classroom.gif", 45),
]


def read_all(source: FrameSource, limit: int = 10_000) -> list[np.ndarray]:
    frames = []
    while len(frames) < limit:
        image = source.read()
        if image is None:
            break
        frames.append(image)
    return frames


# --------------------------------------------------------------------------- files / GIFs


@pytest.mark.parametrize(("name", "count"), GIF_FRAMES)
def test_gif_file_reads_every_frame_once_without_loop(
    media_dir: Path, name: str, count: int
) -> None:
    with open_source(str(media_dir / name), realtime=False, loop=False) as source:
        assert isinstance(source, VideoFileSource)
        assert source.fps > 0
        frames = read_all(source)
        assert len(frames) == count
        assert all(f.shape == (270, 480, 3) and f.dtype == np.uint8 for f in frames)
        assert source.ended
        assert source.read() is None


def test_gif_loops_back_to_its_first_frame(store_gif: Path) -> None:
    with open_source(str(store_gif), realtime=False, loop=True) as source:
        frames = read_all(source, limit=67 * 2 + 3)
        assert len(frames) == 67 * 2 + 3
        assert source.loops == 2
        assert np.array_equal(frames[0], frames[67])
        assert np.array_equal(frames[1], frames[67 * 2 + 1])
        assert not np.array_equal(frames[0], frames[1])


def test_realtime_file_is_paced_at_its_own_frame_rate(store_gif: Path) -> None:
    # The pacing itself is measured by benchmarks; here: the schedule follows the file.
    with open_source(str(store_gif), realtime=True, loop=False) as paced:
        assert paced._pacer.period == pytest.approx(1 / paced.fps)
    with open_source(str(store_gif), realtime=False, loop=False) as fast:
        assert fast._pacer.period == 0


def test_a_file_that_is_not_video_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "clip.mp4"
    fake.write_text("this is not a video")
    with pytest.raises(SourceError, match=r"clip\.mp4: cannot decode"):
        open_source(str(fake))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("/nonexistent/clip.mp4", "no such file or folder"),
        ("   ", "empty camera source"),
        ("ftp://user:hunter2@cam/x", r"user:\*\*\*@cam.*unsupported scheme"),
    ],
)
def test_bad_specs_are_named(spec: str, message: str) -> None:
    with pytest.raises(SourceError, match=message) as info:
        open_source(spec)
    assert "hunter2" not in str(info.value)


# --------------------------------------------------------------------------- image folder


@pytest.fixture
def jpeg_folder(tmp_path: Path, store_gif: Path, read_gif_frames: Callable) -> tuple[Path, list]:
    frames = read_gif_frames(store_gif, limit=5)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.jpg"), frame)
    (tmp_path / "frame_002b.jpg").write_bytes(b"\xff\xd8 truncated jpeg")  # corrupt, sorted mid-way
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path, frames


def test_image_folder_reads_images_in_name_order_and_skips_corrupt_ones(jpeg_folder) -> None:
    folder, originals = jpeg_folder
    with open_source(str(folder), realtime=False, loop=False) as source:
        assert isinstance(source, ImageFolderSource)
        frames = read_all(source)
        assert len(frames) == 5
        assert source.unreadable == 1
        for got, want in zip(frames, originals, strict=True):
            # JPEG is lossy: same picture, small mean error.
            assert np.abs(got.astype(int) - want.astype(int)).mean() < 6


def test_image_folder_loops(jpeg_folder) -> None:
    folder, _ = jpeg_folder
    with open_source(str(folder), realtime=False, loop=True) as source:
        frames = read_all(source, limit=12)
        assert len(frames) == 12
        assert np.array_equal(frames[0], frames[5])


def test_folder_without_images_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no frames here")
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path))


# --------------------------------------------------------------------------- MJPEG over HTTP


def test_mjpeg_over_http_through_ffmpeg(mjpeg_server) -> None:
    with open_source(mjpeg_server.url, open_timeout_s=5, read_timeout_s=5) as source:
        assert isinstance(source, StreamSource) and source.live
        frames = read_all(source, limit=8)
    assert len(frames) == 8
    assert all(f.shape == (270, 480, 3) for f in frames)
    assert not np.array_equal(frames[0], frames[1])  # a moving stream, not one frame


def test_capture_worker_on_mjpeg_goes_online(mjpeg_server, wait_until) -> None:
    worker = CaptureWorker("cam-http", "HTTP cam", mjpeg_server.url, read_timeout_s=3).start()
    try:
        assert wait_until(lambda: worker.status().state is CameraState.ONLINE, timeout=20)
        assert wait_until(lambda: worker.latest(consume=False) is not None, timeout=5)
        frame = worker.latest()
        assert (
            frame is not None
            and frame.camera_id == "cam-http"
            and frame.image.shape == (270, 480, 3)
        )
    finally:
        assert worker.stop(timeout=10)
    assert worker.status().state is CameraState.OFFLINE


# --------------------------------------------------------------------------- webcam


def test_missing_webcam_index_is_a_clear_error_and_offline_status(wait_until) -> None:
    # This machine has no camera device, so index 9 cannot exist: we check the failure path.
    with pytest.raises(SourceError, match="webcam 9"):
        open_source("9")
    worker = CaptureWorker("cam-usb", "USB", "9", offline_after_s=0, backoff_initial_s=0.2).start()
    try:
        assert wait_until(lambda: "webcam 9" in worker.status().last_error, timeout=10)
        assert wait_until(lambda: worker.status().state is CameraState.OFFLINE, timeout=10)
        assert worker.status().state is not CameraState.ONLINE
    finally:
        assert worker.stop(timeout=5)


# --------------------------------------------------------------------------- worker logic


def test_worker_keeps_only_the_newest_frame_and_counts_drops(store_gif: Path, wait_until) -> None:
    worker = CaptureWorker("cam", "Aisle", str(store_gif), realtime=False, loop=False).start()
    assert wait_until(lambda: not worker.running, timeout=60)
    status = worker.status()
    assert worker.frames_captured == 67
    # Nobody consumed: the first frame filled the slot, the other 66 each overwrote one.
    assert status.dropped_frames == 66
    assert status.state is CameraState.OFFLINE and "end of stream" in status.last_error
    newest = worker.latest()
    assert newest is not None and newest.index == 66
    assert worker.latest() is None  # consumed
    peek = worker.latest(consume=False)
    assert peek is not None and peek.index == 66


def test_on_frame_sees_every_frame_and_its_errors_are_not_fatal(
    store_gif: Path, wait_until
) -> None:
    seen: list[Frame] = []

    def flaky(frame: Frame) -> None:
        seen.append(frame)
        if frame.index % 2:
            raise RuntimeError("downstream hiccup")

    worker = CaptureWorker(
        "cam", "Aisle", str(store_gif), realtime=False, loop=False, on_frame=flaky
    ).start()
    assert wait_until(lambda: not worker.running, timeout=60)
    assert [f.index for f in seen] == list(range(67))
    assert worker.callback_errors == 33


class ScriptedSource(FrameSource):
    """A stand-in camera that returns a fixed list of arrays (to reach corrupt cases a real
    decoder rarely produces on demand)."""

    def __init__(self, frames: list) -> None:
        super().__init__("scripted", 10.0)
        self.frames = list(frames)

    def read(self):
        if not self.frames:
            self.ended = True
            return None
        return self.frames.pop(0)

    def close(self) -> None:
        pass


def test_corrupt_frames_and_resolution_changes_are_counted_and_skipped(wait_until) -> None:
    def img(h: int, w: int, value: int = 0) -> np.ndarray:
        return np.full((h, w, 3), value, np.uint8)

    script = [
        img(100, 100, 1),
        np.zeros((0, 0, 3), np.uint8),  # empty
        np.zeros((100, 100, 3), np.float32),  # wrong dtype
        np.zeros((100, 100, 2), np.uint8),  # two channels
        img(50, 50, 2),  # one glitched frame of another size: skipped
        img(100, 100, 3),
        np.zeros((100, 100), np.uint8),  # grey: converted, not corrupt
        img(200, 200, 4),  # the camera was reconfigured: adopted after 3 frames
        img(200, 200, 5),
        img(200, 200, 6),
        img(200, 200, 7),
    ]
    published: list[Frame] = []
    worker = CaptureWorker(
        "cam",
        "Scripted",
        "scripted",
        loop=False,
        on_frame=published.append,
        opener=lambda spec: ScriptedSource(script),
    ).start()
    assert wait_until(lambda: not worker.running, timeout=10)
    assert worker.corrupt_frames == 3
    assert worker.resolution_changes == 2
    assert [int(f.image[0, 0, 0]) for f in published] == [1, 3, 0, 6, 7]
    assert all(f.image.ndim == 3 and f.image.shape[2] == 3 for f in published)


def test_worker_reconnects_after_failures(wait_until) -> None:
    attempts: list[int] = []

    def opener(spec: str) -> FrameSource:
        attempts.append(1)
        if len(attempts) in (1, 2, 4):
            raise SourceError(f"{spec}: refused")
        # A live camera that delivers 3 frames and then loses the connection.
        source = ScriptedSource([np.full((8, 8, 3), len(attempts), np.uint8)] * 3)
        source.live = True
        return source

    worker = CaptureWorker(
        "cam",
        "Flaky",
        "rtsp://admin:s3cret@10.0.0.9/live",
        opener=opener,
        backoff_initial_s=0.01,
        backoff_max_s=0.05,
    ).start()
    try:
        assert wait_until(lambda: len(attempts) >= 6, timeout=20)
    finally:
        assert worker.stop(timeout=5)
    status = worker.status()
    assert status.reconnects >= 2  # opened at attempt 3, again at 5 and later
    assert "s3cret" not in status.last_error and "s3cret" not in str(status.as_dict())
    assert worker.frames_captured >= 6


def test_backoff_grows_caps_and_jitters() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.5, 8.0, rng) for n in range(12)]
    for n, delay in enumerate(delays):
        base = min(8.0, 0.5 * 2**n)
        assert 0.5 * base <= delay < base
    assert max(delays) < 8.0
    assert len({round(d, 6) for d in delays[6:]}) > 1  # capped ones still differ (jitter)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/live", "rtsp://admin:***@10.0.0.5:554/live"),
        ("rtsp://admin:p@ss@cam.local/ch1", "rtsp://admin:***@cam.local/ch1"),
        ("http://tokenonly@cam/mjpg", "http://***@cam/mjpg"),
        (
            "http://cam/video.mjpg?user=bob&password=hunter2&x=1",
            "http://cam/video.mjpg?user=bob&password=***&x=1",
        ),
        ("https://cam/stream?token=abc.def", "https://cam/stream?token=***"),
        ("rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live"),
        ("/videos/store.mp4", "/videos/store.mp4"),
        (
            "failed to open rtsp://u:pw@h/x after 5 s",
            "failed to open rtsp://u:***@h/x after 5 s",
        ),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# --------------------------------------------------------------------------- RTSP (real server)


@pytest.mark.slow
def test_rtsp_stream_from_a_real_server(rtsp_server) -> None:
    with open_source(rtsp_server.url, open_timeout_s=10, read_timeout_s=5) as source:
        assert isinstance(source, StreamSource) and source.kind == "rtsp"
        frames = read_all(source, limit=5)
    assert len(frames) == 5
    assert frames[0].shape == (240, 320, 3)


@pytest.mark.slow
def test_rtsp_credentials_work_and_never_show_in_status(
    rtsp_server_factory, wait_until, capfd
) -> None:
    server = rtsp_server_factory("--user", "viewer", "--password", "s3cret")
    good = server.url.replace("rtsp://", "rtsp://viewer:s3cret@")
    bad = server.url.replace("rtsp://", "rtsp://viewer:wrong-s3cret@")
    with open_source(good, open_timeout_s=10) as source:
        assert source.read() is not None
        assert "s3cret" not in repr(source)
    with pytest.raises(SourceError) as info:
        open_source(bad, open_timeout_s=5)
    assert "wrong-s3cret" not in str(info.value) and "viewer:***@" in str(info.value)
    worker = CaptureWorker("cam", "Locked", bad, open_timeout_s=5, backoff_initial_s=0.2).start()
    try:
        assert wait_until(lambda: worker.status().last_error != "", timeout=20)
        status = worker.status()
        assert status.state is not CameraState.ONLINE
        assert "s3cret" not in status.last_error and "viewer:***@" in status.last_error
    finally:
        assert worker.stop(timeout=10)
    # FFmpeg's and OpenCV's own log lines (fd-level stderr) must not leak the password.
    captured = capfd.readouterr()
    assert "s3cret" not in captured.out + captured.err


@pytest.mark.fault
@pytest.mark.slow
def test_rtsp_outage_goes_reconnecting_then_offline_and_recovers(rtsp_server, wait_until) -> None:
    worker = CaptureWorker(
        "cam-rtsp",
        "Door",
        rtsp_server.url,
        open_timeout_s=5,
        read_timeout_s=2,
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
        offline_after_s=4,
    ).start()
    seen_states: list[CameraState] = []

    def state_is(wanted: CameraState) -> Callable[[], bool]:
        def check() -> bool:
            state = worker.status().state
            if not seen_states or seen_states[-1] is not state:
                seen_states.append(state)
            return state is wanted

        return check

    try:
        assert wait_until(state_is(CameraState.ONLINE), timeout=30)
        assert wait_until(lambda: worker.latest() is not None, timeout=10)
        rtsp_server.kill()
        assert wait_until(state_is(CameraState.OFFLINE), timeout=30)
        assert CameraState.RECONNECTING in seen_states[seen_states.index(CameraState.ONLINE) :]
        assert worker.status().last_error
        rtsp_server.restart()
        assert wait_until(state_is(CameraState.ONLINE), timeout=40)
        assert worker.status().reconnects >= 1
        worker.latest()
        assert wait_until(lambda: worker.latest() is not None, timeout=10)  # frames flow again
    finally:
        assert worker.stop(timeout=10)
