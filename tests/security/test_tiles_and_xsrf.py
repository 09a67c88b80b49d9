"""Live-view access (issue 6, item 3): tile URLs carry an HMAC token bound to one camera
and an expiry, checked by the real tile server; Streamlit's XSRF protection
is on in the shipped config and nothing in the launcher turns it off."""

from __future__ import annotations

import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from storelens.detectors.hub import FrameHub
from storelens.detectors.stream import TileServer
from storelens.kernel.tile_tokens import sign_stream_token

REPO = Path(__file__).resolve().parents[2]
SECRET = b"tile-test-secret"


@pytest.fixture(scope="module")
def tiles() -> Iterator[str]:
    hub = FrameHub()
    hub.publish("door", time.time(), b"DOOR-BLURRED")
    hub.publish("till", time.time(), b"TILL-BLURRED")
    server = TileServer(hub, port=0, secret=SECRET).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stop()


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _with_faces_flag(token: str) -> str:
    """The token format before issue 13 carried a faces bit; no such grant exists now."""
    expires, tag, mac = token.split(".")
    return f"{expires}.1.{tag}.{mac}"


def _later(token: str) -> str:
    expires, tag, mac = token.split(".")
    return f"{int(expires) + 86_400}.{tag}.{mac}"


FORGERIES = {
    "no token": lambda base: f"{base}/frame/door.jpg",
    "garbage token": lambda base: f"{base}/frame/door.jpg?token=abc",
    "token of another camera": lambda base: (
        f"{base}/frame/door.jpg?token={sign_stream_token(SECRET, 'till')}"
    ),
    "a faces bit added": lambda base: (
        f"{base}/frame/door.jpg?token={_with_faces_flag(sign_stream_token(SECRET, 'door'))}"
    ),
    "expiry extended": lambda base: (
        f"{base}/frame/door.jpg?token={_later(sign_stream_token(SECRET, 'door'))}"
    ),
    "expired": lambda base: (
        f"{base}/frame/door.jpg?token={sign_stream_token(SECRET, 'door', ttl_s=-5)}"
    ),
    "signed with another secret": lambda base: (
        f"{base}/frame/door.jpg?token={sign_stream_token(b'guess', 'door')}"
    ),
    "stream, camera swapped": lambda base: (
        f"{base}/stream/door.mjpg?token={sign_stream_token(SECRET, 'till')}"
    ),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_tile_tokens_are_refused(tiles: str, forgery: str) -> None:
    status, body = _get(FORGERIES[forgery](tiles))
    assert status == 403, (forgery, status)
    assert b"BLURRED" not in body


def test_a_valid_token_gets_only_what_it_grants(tiles: str) -> None:
    assert _get(f"{tiles}/frame/door.jpg?token={sign_stream_token(SECRET, 'door')}") == (
        200,
        b"DOOR-BLURRED",
    )


def test_streamlit_xsrf_protection_is_on_and_uploads_are_bounded() -> None:
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server.get("enableXsrfProtection") is True
    assert server.get("enableCORS", True) is True  # XSRF needs CORS protection left on
    assert 0 < server.get("maxUploadSize", 200) <= 200
    launchers = sorted((REPO / "app").glob("*.py"))  # what starts the dashboard process
    assert any(p.name == "supervisor.py" for p in launchers)
    for path in launchers:
        for switch in ("enableXsrfProtection", "enableCORS"):
            assert switch not in path.read_text(), f"{path.name} overrides {switch}"
