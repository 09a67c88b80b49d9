"""Tile tokens: the one protocol the dashboard and the pipeline's tile server share.

The dashboard signs a short-lived token per camera for a signed-in user; the tile server
(detectors/stream.py) checks it. Both sides need the same secret and the same format, and
neither room may import the other's servers (a page importing the tile server pulled the
vision room in), so the protocol lives in the kernel. See detectors/stream.py for what a
token grants and how sign-out revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time

from storelens.kernel.paths import storelens_home


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


# The longest a tile token may live (issue 18, item 8). The clock is the same machine's
# (dashboard and pipeline run side by side), so no slack beyond a second is needed.
MAX_TOKEN_S = 60
UNBOUND = "0"  # the session tag of a token not tied to a cookie session (demo, OIDC)


def session_tag(session_id: str | None) -> str:
    """What a token carries of the web session id: a hash, so URLs never hold the id."""
    if not session_id:
        return UNBOUND
    return hashlib.sha256(f"storelens-tile|{session_id}".encode()).hexdigest()[:16]


def _mac(secret: bytes, camera_id: str, expires: int, tag: str) -> str:
    msg = f"{camera_id}|{expires}|{tag}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()[:32]


def sign_stream_token(
    secret: bytes,
    camera_id: str,
    ttl_s: int = MAX_TOKEN_S,
    tag: str = UNBOUND,
    now: float | None = None,
) -> str:
    """``expires.tag.mac``: grants one camera's (blurred) tiles until ``expires``."""
    if ttl_s > MAX_TOKEN_S:
        raise ValueError(f"tile tokens live at most {MAX_TOKEN_S} s, asked for {ttl_s}")
    expires = int(time.time() if now is None else now) + ttl_s
    return f"{expires}.{tag}.{_mac(secret, camera_id, expires, tag)}"


def parse_stream_token(secret: bytes, camera_id: str, token: str) -> tuple[int, str] | None:
    """``(expires, tag)`` of a token signed for ``camera_id``, expired or not; else None."""
    try:
        expires_s, tag, mac = token.split(".")
        expires = int(expires_s)
    except (ValueError, AttributeError):
        return None
    if (
        not tag
        or len(tag) > 16
        or not hmac.compare_digest(mac, _mac(secret, camera_id, expires, tag))
    ):
        return None
    return expires, tag


# /status (camera states, fps, last errors) needs a token too: it is signed for this name,
# which no camera can have (camera ids are slugs without "*").
STATUS_SCOPE = "*status*"


def status_url(base_url: str, secret: bytes, ttl_s: int = MAX_TOKEN_S) -> str:
    """The tile server's /status URL with a token the server accepts."""
    return f"{base_url}/status?token={sign_stream_token(secret, STATUS_SCOPE, ttl_s=ttl_s)}"


def verify_stream_token(secret: bytes, camera_id: str, token: str) -> bool:
    """Whether ``token`` is valid for ``camera_id``, unexpired and within its lifetime."""
    return live_token(secret, camera_id, token) is not None


def live_token(secret: bytes, camera_id: str, token: str) -> tuple[int, str] | None:
    parsed = parse_stream_token(secret, camera_id, token)
    if parsed is None:
        return None
    now = time.time()
    # Refused: expired, or claiming more than MAX_TOKEN_S of life (signed by an old build
    # or a caller that asked for an hour: such a link would outlive a sign-out).
    if not now <= parsed[0] <= now + MAX_TOKEN_S + 1:
        return None
    return parsed
