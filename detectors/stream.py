"""MJPEG tile server owned by the pipeline process.

Why a stream the browser pulls itself: measured here (STACK-NOTES.md and
``benchmarks/bench_tiles.py``), one Streamlit fragment per tile reached 4–5 fps
while saturating a core and showed broken images, because every frame went
through Streamlit's media file manager. An ``<img src=".../stream/cam.mjpg">``
keeps Streamlit out of the frame path entirely: the dashboard server spends
nothing per frame, and the browser replaces the picture in place.

Access: each URL carries an HMAC token minted by the dashboard for a signed-in user and
one camera, so a copied URL cannot be changed to another camera. Every tile is blurred
(detectors/display.py); no role gets more.

Tokens live at most :data:`MAX_TOKEN_S` (60 s): a token that claims a longer life is
refused, and an open stream ends when its token expires, so a copied link (or a stream
left running after sign-out) stops within a minute. The open Live page renews its
tokens through the dashboard (``POST /session/tiles``, dashboard/asgi.py), which answers
only while that browser session is signed in. Tokens of a cookie session also carry a tag
of its session id (:func:`session_tag`); sign-out writes the id to ``sessions.revoked``
(dashboard/websession.py) in the same STORELENS_HOME, and the tile server refuses such
tokens and cuts their open streams within a second.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from storelens.detectors.hub import FrameHub
from storelens.kernel.paths import storelens_home
from storelens.kernel.tile_tokens import (
    STATUS_SCOPE,
    live_token,
    session_tag,
    stream_secret,
)

log = logging.getLogger(__name__)
BOUNDARY = "storelensframe"
# A request must arrive, and every write must drain, within this time: a client that sends
# half a request or stops reading a stream loses its thread instead of holding it forever.
SOCKET_TIMEOUT_S = 10.0
# While no new frame arrives, check this often whether the viewer has gone away, so a closed
# tab does not keep a stream thread until the camera comes back.
IDLE_CHECK_S = 1.0


class RevokedSessions:
    """Tags of signed-out web sessions, from the dashboard's ``sessions.revoked`` file
    (``{session id: expires}``), re-read when the file changes (checked at most once a
    second)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp: tuple[int, int] | None = None
        self._tags: frozenset[str] = frozenset()

    def tags(self) -> frozenset[str]:
        if self.path is None:
            return frozenset()
        with self._lock:
            now = time.monotonic()
            if now - self._checked < 1.0:
                return self._tags
            self._checked = now
            try:
                st = self.path.stat()
                stamp = (st.st_mtime_ns, st.st_ino)
                if stamp != self._stamp:
                    self._tags = frozenset(
                        session_tag(k) for k in json.loads(self.path.read_text())
                    )
                    self._stamp = stamp
            except FileNotFoundError:
                self._tags, self._stamp = frozenset(), None
            except (OSError, ValueError, TypeError, AttributeError):
                pass  # half-written or unreadable: keep what we had
            return self._tags


def _peer_gone(sock: socket.socket) -> bool:
    """True when the client closed its end (readable with nothing to read) or broke it."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class _Handler(BaseHTTPRequestHandler):
    server: TileServer
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S  # StreamRequestHandler applies it to the connection socket

    def log_message(self, format: str, *args: object) -> None:
        log.debug("tile server: " + format, *args)

    def handle(self) -> None:
        # A viewer that goes away mid-response is normal (tab closed, page left): one debug
        # line, not a traceback in the pipeline log.
        try:
            super().handle()
        except (ConnectionError, TimeoutError) as exc:
            log.debug("tile server: client %s went away: %r", self.client_address, exc)

    def _send(self, code: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # The dashboard's tile script reads the stream with fetch() from the dashboard's
        # origin; the token in the URL is the credential, no cookie is involved.
        self.send_header("Access-Control-Allow-Origin", "*")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        query = parse_qs(url.query)
        if url.path == "/health":
            return self._send(200, b"ok")
        if url.path == "/status":
            if self.server.check_token(STATUS_SCOPE, query.get("token", [""])[0]) is None:
                return self._send(HTTPStatus.FORBIDDEN, b"missing, invalid or expired token")
            now = time.time()
            body = json.dumps(
                {cid: s.as_dict(now) for cid, s in self.server.hub.statuses().items()}
            )
            return self._send(200, body.encode(), "application/json")
        if len(parts) != 2 or parts[0] not in ("frame", "stream"):
            return self._send(404, b"not found")
        camera_id = parts[1].rsplit(".", 1)[0]
        granted = self.server.check_token(camera_id, query.get("token", [""])[0])
        if granted is None:
            return self._send(HTTPStatus.FORBIDDEN, b"missing, invalid or expired token")
        if parts[0] == "frame":
            frame = self.server.hub.latest(camera_id)
            if frame is None:
                return self._send(404, b"no frame yet")
            return self._send(200, frame.jpeg, "image/jpeg")
        fps_text = query.get("fps", ["12"])[0]
        try:
            fps = float(fps_text)
        except ValueError:
            fps = float("nan")
        if not 0.5 <= fps <= 30.0:  # also rejects nan and inf
            return self._send(HTTPStatus.BAD_REQUEST, b"fps must be a number from 0.5 to 30")
        self._stream(camera_id, fps, granted)

    def _stream(self, camera_id: str, fps: float, granted: tuple[int, str]) -> None:
        """multipart/x-mixed-replace: one part per new frame, each with its capture time in
        ``X-Frame-Ts`` (epoch seconds) so the viewer can tell a frozen picture from a live one.
        """
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        with self.server.count_lock:
            self.server.viewers += 1
        min_gap = 1.0 / fps
        seq = 0
        try:
            while not self.server.stopping.is_set():
                # The token's life ends the stream: a link copied or left open after sign-out
                # stops at its expiry (<= MAX_TOKEN_S), a signed-out session's at once.
                if not self.server.still_granted(granted):
                    break
                frame = self.server.hub.wait_newer(camera_id, seq, timeout=IDLE_CHECK_S)
                if frame is None:
                    if _peer_gone(self.connection):
                        break
                    continue
                seq = frame.seq
                jpeg = frame.jpeg
                # The socket timeout bounds this write: a client that stopped reading (its
                # buffers full) raises TimeoutError here and the stream ends.
                self.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\nX-Frame-Ts: {frame.ts:.3f}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                self.wfile.flush()
                self.server.frames_sent += 1
                if self.server.stopping.wait(min_gap):
                    break
        except (ConnectionError, TimeoutError):
            pass
        finally:
            with self.server.count_lock:
                self.server.viewers -= 1


class TileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        hub: FrameHub,
        host: str = "127.0.0.1",
        port: int = 8503,
        secret: bytes | None = None,
        revoked_file: Path | None = None,
    ):
        super().__init__((host, port), _Handler)
        self.hub = hub
        self.secret = secret or stream_secret()
        # Where the dashboard records sign-outs (dashboard/websession.py, same home).
        self.revoked = RevokedSessions(revoked_file or storelens_home() / "sessions.revoked")
        self.stopping = threading.Event()
        self.count_lock = threading.Lock()
        self.viewers = 0  # open streams right now (tests and benchmarks read it)
        self.frames_sent = 0

    def check_token(self, scope: str, token: str) -> tuple[int, str] | None:
        """``(expires, tag)`` of a live token for ``scope`` whose session is not signed out."""
        granted = live_token(self.secret, scope, token)
        if granted is None or not self.still_granted(granted):
            return None
        return granted

    def still_granted(self, granted: tuple[int, str]) -> bool:
        expires, tag = granted
        return time.time() <= expires and tag not in self.revoked.tags()

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that vanished (flush on close, reset) is not worth a traceback."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            log.debug("tile server: client %s went away", client_address)
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def start(self) -> TileServer:
        threading.Thread(target=self.serve_forever, name="tile-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
