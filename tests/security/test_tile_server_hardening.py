"""The MJPEG tile server (issue 10, items 1 and 9): /status needs a token, a bad ``fps`` is
a clear 400 (not a traceback), half-sent requests and viewers that stop reading or leave
lose their thread, and a viewer that goes away leaves no traceback in the log."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from storelens.detectors import stream
from storelens.detectors.stream import TileServer
from storelens.kernel.tile_tokens import sign_stream_token, status_url

from tests.dashboard.harness import fed_tile_server

SECRET = b"tile-hardening-secret"


@pytest.fixture
def tiles(monkeypatch: pytest.MonkeyPatch) -> Iterator[TileServer]:
    monkeypatch.setattr(stream._Handler, "timeout", 0.5)  # the real one is 10 s
    monkeypatch.setattr(stream, "IDLE_CHECK_S", 0.2)
    # 50 frames/s of 64 KB: a reader that stops falls behind
    with fed_tile_server(SECRET, 65536, 0.02) as server:
        yield server


def url(server: TileServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def get(address: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(address, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def wait_until(check, what: str, deadline_s: float = 30.0) -> None:
    end = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < end, f"not within {deadline_s} s: {what}"
        time.sleep(0.05)


def test_status_needs_a_token(tiles: TileServer) -> None:
    base = url(tiles)
    assert get(f"{base}/status")[0] == 403
    assert get(f"{base}/status?token={sign_stream_token(SECRET, 'door')}")[0] == 403  # a camera's
    assert get(status_url(base, b"another secret"))[0] == 403
    status, body = get(status_url(base, SECRET))
    assert status == 200 and body.startswith(b"{")


@pytest.mark.parametrize("fps", ["abc", "nan", "inf", "-1", "0", "31", "1e400"])
def test_bad_fps_is_a_400(tiles: TileServer, fps: str, capfd: pytest.CaptureFixture) -> None:
    token = sign_stream_token(SECRET, "door")
    status, body = get(f"{url(tiles)}/stream/door.mjpg?token={token}&fps={fps}")
    assert status == 400 and b"fps must be a number from 0.5 to 30" in body
    assert "Traceback" not in capfd.readouterr().err


def test_half_sent_requests_are_dropped(tiles: TileServer) -> None:
    socks = [socket.create_connection(("127.0.0.1", tiles.server_address[1])) for _ in range(20)]
    try:
        for s in socks:
            s.sendall(b"GET /stream/door.mjpg?token=")  # and then nothing
        for s in socks:
            s.settimeout(30)
            assert s.recv(1024) == b"", "a half-sent request kept its connection"
    finally:
        for s in socks:
            s.close()


def _open_stream(server: TileServer) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", server.server_address[1]))
    token = sign_stream_token(SECRET, "door")
    s.sendall(f"GET /stream/door.mjpg?token={token}&fps=30 HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    s.settimeout(10)
    assert s.recv(4096).startswith(b"HTTP/1.1 200")
    return s


def test_viewer_that_stops_reading_is_dropped(tiles: TileServer) -> None:
    s = _open_stream(tiles)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        wait_until(lambda: tiles.viewers == 1, "the stream is counted")
        # Never read again: the server's writes fill the buffers and time out.
        wait_until(lambda: tiles.viewers == 0, "the stalled viewer is dropped")
    finally:
        s.close()


def test_viewer_that_leaves_is_dropped_quietly(
    tiles: TileServer, capfd: pytest.CaptureFixture
) -> None:
    for _ in range(3):
        s = _open_stream(tiles)
        wait_until(lambda: tiles.viewers == 1, "the stream is counted")
        # An abrupt close (RST), as when a tab is killed.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()
        wait_until(lambda: tiles.viewers == 0, "the closed viewer is dropped")
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err
