"""Fixtures for the detectors room: shared footage, a real MJPEG server, a real RTSP server."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

RTSP_SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="session")
def media_dir(shared_media: Path) -> Path:
    """../shared/media (tests/conftest.py skips with the reason when it is absent)."""
    return shared_media


@pytest.fixture(scope="session")
def store_gif(media_dir: Path) -> Path:
    return media_dir / "store-aisle-detection.gif"


def read_gif_frames(path: Path, limit: int | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while limit is None or len(frames) < limit:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames


# --------------------------------------------------------------------------- MJPEG over HTTP


@dataclass
class MjpegServer:
    url: str
    frames_sent: int = 0
    stop: threading.Event | None = None


@pytest.fixture
def mjpeg_server(store_gif: Path) -> Iterator[MjpegServer]:
    """A stdlib HTTP server streaming the store GIF as multipart/x-mixed-replace JPEGs."""
    jpegs = [cv2.imencode(".jpg", f)[1].tobytes() for f in read_gif_frames(store_gif, limit=20)]
    stop = threading.Event()
    state = MjpegServer(url="", stop=stop)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/stream.mjpg":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            i = 0
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                while not stop.is_set():
                    jpeg = jpegs[i % len(jpegs)]
                    self.wfile.write(
                        b"--frame\r\nContent-Type: image/jpeg\r\n"
                        + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                        + jpeg
                        + b"\r\n"
                    )
                    self.wfile.flush()
                    state.frames_sent += 1
                    i += 1
                    time.sleep(0.05)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/stream.mjpg"
    yield state
    stop.set()
    server.shutdown()
    server.server_close()


# --------------------------------------------------------------------------- RTSP


def rtsp_server_available() -> str | None:
    """None when the GStreamer RTSP server can run here, else why not."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "missing=[e for e in ('videotestsrc','x264enc','rtph264pay')"
        " if not Gst.ElementFactory.find(e)];"
        "print(','.join(missing))"
    )
    try:
        out = subprocess.run(
            [SYSTEM_PYTHON, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return f"python3-gi / gir1.2-gst-rtsp-server-1.0 not usable ({type(exc).__name__})"
    if out.stdout.strip():
        return f"GStreamer elements missing: {out.stdout.strip()}"
    return None


@dataclass
class RtspServer:
    """A running gst-rtsp-server subprocess; ``kill()`` and ``restart()`` simulate outages."""

    port: int
    path: str
    extra_args: list[str]
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.kill()
        self.process = _spawn_rtsp(self.port, self.path, self.extra_args)[1]


def _spawn_rtsp(port: int, path: str, extra: list[str]) -> tuple[int, subprocess.Popen[str]]:
    deadline = time.monotonic() + 20
    while True:
        proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(RTSP_SERVER_SCRIPT), "--port", str(port), "--path", path, *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line.startswith("READY "):
            return int(line.split()[1]), proc
        proc.kill()
        proc.wait(timeout=10)
        # The old server's port may linger for a moment after a kill; try again.
        if time.monotonic() > deadline:
            raise RuntimeError(f"RTSP server did not start on port {port}: {line!r}")
        time.sleep(0.5)


@pytest.fixture
def rtsp_server_factory() -> Iterator[Callable[..., RtspServer]]:
    why = rtsp_server_available()
    if why:
        pytest.skip(f"no RTSP server here: {why}; install it with `scripts/setup.sh --test`")
    servers: list[RtspServer] = []

    def start(*extra_args: str, path: str = "/cam") -> RtspServer:
        port, proc = _spawn_rtsp(0, path, list(extra_args))
        server = RtspServer(port, path, list(extra_args), proc)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def rtsp_server(rtsp_server_factory: Callable[..., RtspServer]) -> RtspServer:
    return rtsp_server_factory()


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` s pass (a bound, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., bool]:
    return wait_until


@pytest.fixture(name="read_gif_frames")
def read_gif_frames_fixture() -> Callable[..., list[np.ndarray]]:
    return read_gif_frames
