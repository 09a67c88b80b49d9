"""Faults in the camera stream (issue 6, item 1), against real servers.

* a real GStreamer RTSP server frozen with SIGSTOP (TCP stays open): the read timeout fires,
  the camera reconnects after SIGCONT, and stopping never leaves a thread hanging;
* a real MJPEG-over-HTTP camera that sends garbage and truncated JPEGs, another that changes
  resolution, and a clip that ends: frames are skipped and counted, the Runner keeps
  analysing every camera that still has frames.

(The RTSP server killed and restarted is tests/detectors/test_sources.py's test.)
"""

from __future__ import annotations

import contextlib
import http.server
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.detectors.runner import Runner
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.detectors.sources import CaptureWorker
from storelens.detectors.types import CameraState
from storelens.kernel.config import CameraConfig, StoreLensConfig

from tests.reliability.support import wait_until

pytestmark = pytest.mark.fault


def test_rtsp_frozen_with_sigstop_times_out_reconnects_and_stops_cleanly(
    rtsp_server_factory, store_gif: Path, fault_record
) -> None:
    server = rtsp_server_factory()
    frozen = CaptureWorker(
        "frozen",
        "RTSP",
        server.url,
        open_timeout_s=2,
        read_timeout_s=2,
        offline_after_s=5,
        backoff_initial_s=0.2,
        backoff_max_s=1.0,
    ).start()
    other = CaptureWorker("file", "File", str(store_gif), realtime=True).start()
    try:
        assert wait_until(lambda: frozen.status().state is CameraState.ONLINE, 60)
        os.kill(server.process.pid, signal.SIGSTOP)
        frozen_at = time.monotonic()
        other_before = other.frames_captured
        # The read timeout fires although the TCP connection is still open.
        assert wait_until(lambda: frozen.status().state is not CameraState.ONLINE, 30), (
            "a frozen RTSP server kept the camera ONLINE: the read timeout did not fire"
        )
        detected_s = time.monotonic() - frozen_at
        assert "stopped delivering" in (frozen.status().last_error or "")
        assert wait_until(lambda: frozen.status().state is CameraState.OFFLINE, 30)
        assert other.frames_captured > other_before, "another camera stalled during the freeze"

        os.kill(server.process.pid, signal.SIGCONT)
        resumed_at = time.monotonic()
        assert wait_until(lambda: frozen.status().state is CameraState.ONLINE, 60)
        recovery_s = time.monotonic() - resumed_at
        assert frozen.status().reconnects >= 1

        # Frozen again, then stopped: the thread blocked in a read ends by itself.
        os.kill(server.process.pid, signal.SIGSTOP)
        time.sleep(0.5)
        assert frozen.stop(timeout=15), "capture thread left hanging in a read"
        assert not frozen.running
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.process.pid, signal.SIGCONT)
        frozen.stop(timeout=15)
        other.stop()
    fault_record(
        "RTSP frozen (SIGSTOP), read timeout 2 s",
        detected_s,
        "all frames while frozen",
        f"left ONLINE after {detected_s:.1f} s; back ONLINE {recovery_s:.1f} s after SIGCONT",
    )


# --------------------------------------------------------------------------- MJPEG cameras


def _jpeg(width: int, height: int, i: int) -> bytes:
    image = np.full((height, width, 3), 40, np.uint8)
    cv2.putText(image, str(i), (10, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    image[:, (i * 7) % width] = 220
    return cv2.imencode(".jpg", image)[1].tobytes()


class MjpegCamera:
    """A real HTTP server speaking multipart MJPEG; ``script(connection_no)`` says what each
    connection sends. Notes when it sent its first bad part."""

    def __init__(self, script: Callable[[int], list[bytes | None]], fps: float = 20) -> None:
        self.connections = 0
        self.connected_at: list[float] = []
        self.bad_sent_at: float | None = None
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                camera.connections += 1
                camera.connected_at.append(time.monotonic())
                parts = script(camera.connections)
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    for part in parts:
                        if part is None:  # marker: the bad parts start here
                            camera.bad_sent_at = camera.bad_sent_at or time.monotonic()
                            continue
                        head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(part)}\r\n\r\n"
                        self.wfile.write(head.encode() + part + b"\r\n")
                        self.wfile.flush()
                        time.sleep(1 / fps)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cam.mjpg"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _garbage_script(connection: int) -> list[bytes | None]:
    good = [_jpeg(320, 240, i) for i in range(15)]
    if connection > 1:
        return good * 40  # the camera recovered
    rng = np.random.default_rng(0)
    bad = [rng.bytes(3000) for _ in range(3)] + [_jpeg(320, 240, 99)[:700] for _ in range(2)]
    return [*good, None, *bad, *good]


def _resolution_script(connection: int) -> list[bytes | None]:
    # The camera is reconfigured from 320x240 to 480x272 after 20 frames of the first
    # connection; every later connection streams the new size.
    if connection == 1:
        return [
            *(_jpeg(320, 240, i) for i in range(20)),
            None,
            *(_jpeg(480, 272, i) for i in range(20)),
        ]
    return [_jpeg(480, 272, i % 30) for i in range(600)]


def test_garbage_resolution_change_and_ending_clip_keep_the_pipeline_running(
    store_gif: Path, person_detector, tmp_path: Path, fault_record
) -> None:
    garbage = MjpegCamera(_garbage_script)
    resized = MjpegCamera(_resolution_script)
    short_clip = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(short_clip), cv2.VideoWriter_fourcc(*"MJPG"), 10, (480, 270))
    cap = cv2.VideoCapture(str(store_gif))
    for _ in range(15):
        ok, frame = cap.read()
        assert ok
        writer.write(frame)
    cap.release()
    writer.release()
    cameras = [
        CameraConfig(camera_id="garbage", name="Garbage", source=garbage.url),
        CameraConfig(camera_id="resized", name="Resized", source=resized.url),
        CameraConfig(camera_id="ends", name="Ends", source=str(short_clip), loop=False),
        CameraConfig(camera_id="steady", name="Steady", source=str(store_gif)),
    ]
    seen: dict[str, list[tuple[float, tuple[int, ...]]]] = {c.camera_id: [] for c in cameras}

    def factory(c: CameraConfig) -> CaptureWorker:
        return CaptureWorker(
            c.camera_id,
            c.name,
            c.source,
            realtime=c.realtime,
            loop=c.loop,
            open_timeout_s=3,
            read_timeout_s=3,
            backoff_initial_s=0.2,
            backoff_max_s=1.0,
            on_frame=lambda f, cid=c.camera_id: seen[cid].append((time.monotonic(), f.image.shape)),
        )

    runner = Runner(
        StoreLensConfig(cameras=cameras),
        None,
        options=PipelineOptions(faces=False, workers=2, max_fps_per_camera=5),
        models=SharedModels(person=person_detector),
        worker_factory=factory,
    ).start()
    try:
        workers = runner.workers
        assert wait_until(lambda: workers["garbage"].status().reconnects >= 1, 60)
        assert wait_until(lambda: workers["resized"].resolution_changes >= 1, 60)
        assert wait_until(lambda: workers["ends"].status().state is CameraState.OFFLINE, 60)
        assert "end of stream" in (workers["ends"].status().last_error or "")
        ends_analysed = runner.frames_analysed["ends"]
        # Each camera with frames keeps being analysed after its fault.
        marks = {cid: runner.frames_analysed[cid] for cid in ("garbage", "resized", "steady")}
        assert wait_until(
            lambda: all(runner.frames_analysed[cid] >= n + 3 for cid, n in marks.items()), 120
        ), f"analysis stalled: {runner.counters()}"
        # Frames of the new size are what the pipeline now analyses and shows.
        tile = runner.hub.latest("resized")
        assert tile is not None
        shown = cv2.imdecode(np.frombuffer(tile.jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert shown.shape[:2] == (272, 480)
        assert runner.frames_analysed["ends"] == ends_analysed  # an ended clip stays ended
        assert sum(runner.errors.values()) == 0
        counters = runner.counters()
    finally:
        runner.stop()
        garbage.close()
        resized.close()

    def recovery(cid: str, since: float | None, after: float, shape: tuple[int, ...] | None = None):
        hits = [t for t, s in seen[cid] if t > after and (shape is None or s == shape)]
        return hits[0] - since if hits and since is not None else None

    # Garbage: the frames after the bad parts on that connection are lost; the next frame
    # comes on the reconnection.
    assert len(garbage.connected_at) >= 2 and len(resized.connected_at) >= 2
    fault_record(
        "MJPEG garbage + truncated JPEGs",
        recovery("garbage", garbage.bad_sent_at, garbage.connected_at[1]),
        "rest of that connection",
        f"reconnects={counters['garbage']['reconnects']}",
    )
    fault_record(
        "resolution change mid-stream",
        recovery("resized", resized.bad_sent_at, resized.bad_sent_at or 0.0, (272, 480, 3)),
        "settle frames + reconnect",
        f"resolution_changes={counters['resized']['resolution_changes']}",
    )
    fault_record(
        "clip ends (loop=false)", None, "0", "camera OFFLINE 'end of stream'; others go on"
    )
