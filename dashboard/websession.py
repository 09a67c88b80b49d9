"""Sign-in that survives a reload: a signed, expiring, HttpOnly session cookie.

Streamlit keeps ``st.session_state`` per websocket, so a reload (F5, a bookmark, a shared
link) starts a new, signed-out session. Streamlit cannot set a cookie from a script run,
so the hand-over goes through two small HTTP routes of dashboard/asgi.py:

1. the sign-in form checks the password (dashboard/session.py) and asks :data:`GRANTS` for
   a one-time grant (random, 60 s, held only in this process's memory);
2. a script on the next page run POSTs the grant to ``/session/start``, which answers with
   ``Set-Cookie: storelens_session=…; HttpOnly; SameSite=Strict``: page scripts never see
   the cookie, other sites never send it;
3. every new browser session reads it from ``st.context.cookies`` and, when its signature,
   expiry and revocation check pass, signs the user in again, looking the name up in the
   *current* user list (a removed user or a changed role takes effect at once).

Sign-out revokes the cookie's session id (kept in a 0600 file, so a copied cookie stops
working even across restarts) and clears the cookie through ``/session/end``.

No Streamlit import here: the ASGI routes and the Streamlit pages both use this module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storelens.kernel.paths import storelens_home

COOKIE_NAME = "storelens_session"
# One working day by default (env STORELENS_SESSION_HOURS): a reload keeps the user in,
# the next morning asks again.
DEFAULT_LIFETIME_S = 12 * 3600
GRANT_TTL_S = 60.0
_VERSION = "v1"


def _private_file(path: Path, make: Callable[[], str]) -> str:
    """The content of ``path``, created 0600 with ``make()`` if missing (O_EXCL: two
    processes starting together agree on one value)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def session_secret() -> bytes:
    """Env ``STORELENS_SESSION_SECRET``, else a random key kept in var/session.secret (0600)."""
    env = os.environ.get("STORELENS_SESSION_SECRET")
    if env:
        return env.encode()
    return _private_file(
        storelens_home() / "session.secret", lambda: secrets.token_hex(32)
    ).encode()


@dataclass(frozen=True)
class SessionClaim:
    user: str
    session_id: str
    expires: int


class SessionCookies:
    """Mint and check ``storelens_session`` values: ``v1.<user b64>.<sid>.<expires>.<mac>``."""

    def __init__(
        self,
        secret: bytes,
        revoked_file: Path | None = None,
        lifetime_s: int = DEFAULT_LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        if lifetime_s <= 0:
            raise ValueError(f"session lifetime must be positive, got {lifetime_s}")
        self.secret, self.lifetime_s, self.clock = secret, lifetime_s, clock
        self.revoked_file = revoked_file
        self._lock = threading.Lock()

    def _mac(self, body: str) -> str:
        return hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()

    def issue(self, user: str) -> str:
        if not user:
            raise ValueError("a session needs a user name")
        name = base64.urlsafe_b64encode(user.encode()).decode().rstrip("=")
        expires = int(self.clock()) + self.lifetime_s
        body = f"{_VERSION}.{name}.{secrets.token_hex(16)}.{expires}"
        return f"{body}.{self._mac(body)}"

    def verify(self, value: str | None) -> SessionClaim | None:
        """The claim of a valid, unexpired, unrevoked cookie value; None for anything else."""
        if not value or len(value) > 512:
            return None
        try:
            version, name, sid, expires_s, mac = value.split(".")
            expires = int(expires_s)
            user = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        body = f"{version}.{name}.{sid}.{expires_s}"
        if version != _VERSION or not hmac.compare_digest(mac, self._mac(body)):
            return None
        if expires <= self.clock() or sid in self._revoked():
            return None
        return SessionClaim(user, sid, expires)

    def _revoked(self) -> dict[str, int]:
        if self.revoked_file is None:
            return {}
        try:
            return {k: int(v) for k, v in json.loads(self.revoked_file.read_text()).items()}
        except (OSError, ValueError, AttributeError):
            return {}

    def revoke(self, value: str | None) -> bool:
        """Sign-out: the session id stops working everywhere (until it would have expired)."""
        claim = self.verify(value)
        if claim is None or self.revoked_file is None:
            return False
        with self._lock:
            now = self.clock()
            # Expired entries are dropped, so the file stays as small as the live sessions.
            revoked = {k: v for k, v in self._revoked().items() if v > now}
            revoked[claim.session_id] = claim.expires
            tmp = self.revoked_file.with_name(self.revoked_file.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                json.dump(revoked, fh)
            tmp.replace(self.revoked_file)
        return True


class GrantStore:
    """One-time, short-lived hand-over of a cookie value from a script run to the browser.

    The grant travels in a page script, so it must be useless once used or old: it is
    redeemed at most once, within ``ttl_s``, and only in this process's memory.
    """

    def __init__(self, ttl_s: float = GRANT_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s, self.clock = ttl_s, clock
        self._grants: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def issue(self, cookie_value: str) -> str:
        grant = secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock()
            self._grants = {k: v for k, v in self._grants.items() if v[1] > now}
            self._grants[grant] = (cookie_value, now + self.ttl_s)
        return grant

    def redeem(self, grant: str) -> str | None:
        with self._lock:
            found = self._grants.pop(grant, None)
        if found is None or found[1] <= self.clock():
            return None
        return found[0]


_COOKIES: dict[tuple[str, str], SessionCookies] = {}
_COOKIES_LOCK = threading.Lock()
GRANTS = GrantStore()


def _lifetime_s() -> int:
    raw = os.environ.get("STORELENS_SESSION_HOURS") or "12"
    try:
        hours = float(raw)
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 30:
        raise ValueError(f"STORELENS_SESSION_HOURS must be a number of hours (0-720], got {raw!r}")
    return int(hours * 3600)


def session_cookies() -> SessionCookies:
    """The signer for this STORELENS_HOME (secret and revocation list live there)."""
    home = storelens_home()
    key = (str(home), os.environ.get("STORELENS_SESSION_SECRET", ""))
    with _COOKIES_LOCK:
        if key not in _COOKIES:
            _COOKIES[key] = SessionCookies(
                session_secret(), home / "sessions.revoked", _lifetime_s()
            )
        return _COOKIES[key]
