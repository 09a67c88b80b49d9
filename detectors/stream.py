"""MJPEG tile server owned by the pipeline process.

Why a stream the browser pulls itself: measured here (STACK-NOTES.md and
``benchmarks/bench_tiles.py``), one Streamlit fragment per tile reached 4–5 fps
while saturating a core and showed broken images, because every frame went
through Streamlit's media file manager. An ``<img src=".../stream/cam.mjpg">``
keeps Streamlit out of the frame path entirely: the dashboard server spends
nothing per frame, and the browser replaces the picture in place.

Access: each URL carries a short-lived HMAC token minted by the dashboard for a
signed-in user and one camera (``faces=1`` only for roles that may see faces),
so a copied URL expires and cannot be changed to another camera.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from detectors.hub import FrameHub
from detectors.paths import storelens_home

log = logging.getLogger(__name__)
BOUNDARY = "storelensframe"


def stream_secret() -> bytes:
    """Shared by the dashboard and the pipeline: env, else a private file in var/."""
    env = os.environ.get("STORELENS_STREAM_SECRET")
    if env:
        return env.encode()
    path = storelens_home() / "stream.secret"
    try:  # O_EXCL: two processes starting together agree on one secret
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _mac(secret: bytes, camera_id: str, faces: bool, expires: int) -> str:
    msg = f"{camera_id}|{int(faces)}|{expires}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()[:32]


def sign_stream_token(secret: bytes, camera_id: str, faces: bool = False, ttl_s: int = 3600) -> str:
    expires = int(time.time()) + ttl_s
    return f"{expires}.{int(faces)}.{_mac(secret, camera_id, faces, expires)}"


def verify_stream_token(secret: bytes, camera_id: str, token: str) -> bool | None:
    """None when invalid or expired; otherwise whether the token grants unblurred faces."""
    try:
        expires_s, faces_s, mac = token.split(".")
        expires, faces = int(expires_s), faces_s == "1"
    except (ValueError, AttributeError):
        return None
    if expires < time.time():
        return None
    if not hmac.compare_digest(mac, _mac(secret, camera_id, faces, expires)):
        return None
    return faces


class _Handler(BaseHTTPRequestHandler):
    server: TileServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("tile server: " + format, *args)

    def _send(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        if url.path == "/health":
            return self._send(200, b"ok")
        if url.path == "/status":
            now = time.time()
            body = json.dumps(
                {cid: s.as_dict(now) for cid, s in self.server.hub.statuses().items()}
            )
            return self._send(200, body.encode(), "application/json")
        if len(parts) != 2 or parts[0] not in ("frame", "stream"):
            return self._send(404, b"not found")
        camera_id = parts[1].rsplit(".", 1)[0]
        faces = verify_stream_token(self.server.secret, camera_id, query.get("token", [""])[0])
        if faces is None:
            return self._send(HTTPStatus.FORBIDDEN, b"missing, invalid or expired token")
        if parts[0] == "frame":
            frame = self.server.hub.latest(camera_id)
            if frame is None:
                return self._send(404, b"no frame yet")
            return self._send(200, self._pick(camera_id, frame, faces), "image/jpeg")
        self._stream(camera_id, faces, float(query.get("fps", ["12"])[0]))

    def _pick(self, camera_id: str, frame, faces: bool) -> bytes:
        if faces:
            self.server.hub.want_faces(camera_id)
            if frame.jpeg_faces is not None:
                return frame.jpeg_faces
        return frame.jpeg_blurred

    def _stream(self, camera_id: str, faces: bool, fps: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.server.viewers += 1
        min_gap = 1.0 / max(0.5, min(fps, 30.0))
        seq = 0
        try:
            while not self.server.stopping.is_set():
                frame = self.server.hub.wait_newer(camera_id, seq, timeout=2.0)
                if frame is None:
                    continue
                seq = frame.seq
                jpeg = self._pick(camera_id, frame, faces)
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                self.wfile.flush()
                self.server.frames_sent += 1
                time.sleep(min_gap)
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.server.viewers -= 1
        self.close_connection = True


class TileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, hub: FrameHub, host: str = "127.0.0.1", port: int = 8503, secret: bytes | None = None
    ):
        super().__init__((host, port), _Handler)
        self.hub = hub
        self.secret = secret or stream_secret()
        self.stopping = threading.Event()
        self.viewers = 0
        self.frames_sent = 0

    def start(self) -> TileServer:
        threading.Thread(target=self.serve_forever, name="tile-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
