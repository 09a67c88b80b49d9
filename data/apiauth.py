"""Who may call the read API, and what each caller may see and change.

The read API (data/readapi.py) listens on 127.0.0.1, but every local process can reach
that, so loopback alone is no credential. Instead:

- **A per-start secret.** Each start of the API draws 32 random bytes and writes them, with
  its URL, to ``<db>.services.json`` created 0600 (:mod:`storelens.kernel.discovery`):
  only the account that runs the pipeline (and so the dashboard) can read it. The secret never crosses the wire.
- **A signed request.** ``Authorization: StoreLens <caller>.<expires>.<nonce>.<body>.<mac>``
  where ``caller`` is the base64 JSON of :class:`Caller` (name, role, store, region),
  ``nonce`` 16 random bytes, ``body`` the SHA-256 of the request body, and ``mac`` an
  HMAC-SHA256 under the secret of all of these *and the method and the request target*
  (path and query). So a captured header opens nothing else (issue 18, item 9): not
  another query, path or body, not a second time (the server refuses a nonce it has seen,
  :class:`NonceCache`), and not for long (a lifetime over :data:`MAX_TTL_S` is refused,
  whatever the client asks). The dashboard signs its signed-in user per request (valid
  60 s); tools on the same account (``storelens kpi``, imports) sign as ``system``.
- **Scope on the server.** The API derives the stores a caller may see from its role
  (:func:`caller_scope`) and rewrites or refuses every query's store and camera parameters
  (:func:`scope_params`), so even a holder of the secret who forges ``?store=`` in the
  dashboard gets nothing outside the signed user's scope.
- **Write roles.** Acknowledging alerts: store managers, regional leads, admins (not
  executives, who read only); importing: admins; the live-view audit row always names the
  signed caller, never a name from the request body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from storelens.data.errors import AccessDenied, Unauthenticated

SCHEME = "StoreLens"
ROLES = ("store_manager", "regional_lead", "executive", "admin", "system")
ACK_ROLES = frozenset({"store_manager", "regional_lead", "admin", "system"})
IMPORT_ROLES = frozenset({"admin", "system"})
DEFAULT_TTL_S = 60
# The longest lifetime the server accepts (issue 18, item 9: 10**9 s used to pass). Client
# and server share one machine's clock; the skew only allows for a request in flight.
MAX_TTL_S = 120
CLOCK_SKEW_S = 5
_HEX64 = frozenset("0123456789abcdef")
# Queries without store or camera parameters that any signed caller may run: counts per
# table (the Privacy page's inventory), no row of any store.
GLOBAL_QUERIES = frozenset({"table_sizes"})


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    store: str | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 200:
            raise ValueError("a caller needs a name of 1-200 characters")
        if self.role not in ROLES:
            raise ValueError(f"caller role must be one of {ROLES}, got {self.role!r}")


SYSTEM = Caller("system", "system")


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def _mac(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def body_digest(body: bytes) -> str:
    """The SHA-256 (hex) of a request body, as signed in the credential."""
    return hashlib.sha256(body).hexdigest()


def _signed_text(fields: str, method: str, target: str) -> str:
    return f"{fields}\n{method.upper()}\n{target}"


def sign_request(
    secret: bytes,
    caller: Caller,
    method: str,
    target: str,
    body: bytes = b"",
    ttl_s: int = DEFAULT_TTL_S,
    now: float | None = None,
) -> str:
    """The ``Authorization`` header value for one request by ``caller``: ``method`` and
    ``target`` (path and query, exactly as sent) and ``body`` are signed with it."""
    raw = json.dumps(asdict(caller), separators=(",", ":"), sort_keys=True).encode()
    encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    expires = int(time.time() if now is None else now) + ttl_s
    fields = f"{encoded}.{expires}.{secrets.token_hex(16)}.{body_digest(body)}"
    return f"{SCHEME} {fields}.{_mac(secret, _signed_text(fields, method, target))}"


@dataclass(frozen=True)
class Verified:
    """A request whose credential holds: who signed it and the body it signed."""

    caller: Caller
    body_sha256: str

    def check_body(self, body: bytes) -> None:
        if not hmac.compare_digest(body_digest(body), self.body_sha256):
            raise Unauthenticated("request body does not match its signature")


class NonceCache:
    """Nonces seen until their credentials expire: each signed request is taken once."""

    def __init__(self, limit: int = 200_000) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._limit = limit
        self._next_prune = 0.0

    def take(self, nonce: str, expires: float, now: float) -> bool:
        """True the first time ``nonce`` is offered; False for a replay (or when full)."""
        with self._lock:
            if now >= self._next_prune or len(self._seen) >= self._limit:
                self._seen = {n: e for n, e in self._seen.items() if e >= now}
                self._next_prune = now + 1.0
            if nonce in self._seen or len(self._seen) >= self._limit:
                return False
            self._seen[nonce] = expires
            return True


def verify_request(
    secret: bytes,
    header: str | None,
    method: str,
    target: str,
    nonces: NonceCache,
    now: float | None = None,
) -> Verified:
    """The caller of a valid, fresh, first-seen request; :class:`Unauthenticated` for
    anything else. The body is checked once read (:meth:`Verified.check_body`), so a
    request without a valid credential is refused before its body is read."""
    if not header:
        raise Unauthenticated("no credential: send Authorization: StoreLens <signed request>")
    scheme, _, token = header.partition(" ")
    if scheme != SCHEME or len(token) > 4096:
        raise Unauthenticated(f"unknown credential scheme {scheme[:20]!r}")
    try:
        encoded, expires_s, nonce, body_sha256, mac = token.split(".")
        expires = int(expires_s)
    except ValueError:
        raise Unauthenticated("malformed credential") from None
    fields = f"{encoded}.{expires_s}.{nonce}.{body_sha256}"
    if not hmac.compare_digest(mac, _mac(secret, _signed_text(fields, method, target))):
        raise Unauthenticated("credential signature does not match this request")
    now = time.time() if now is None else now
    if expires < now:
        raise Unauthenticated("credential expired")
    if expires > now + MAX_TTL_S + CLOCK_SKEW_S:
        raise Unauthenticated(f"credential lifetime over {MAX_TTL_S} s")
    if len(nonce) != 32 or not set(nonce) <= _HEX64 or len(body_sha256) != 64:
        raise Unauthenticated("malformed credential")
    if not nonces.take(nonce, expires, now):
        raise Unauthenticated("credential already used (replayed request)")
    try:
        fields_json = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        return Verified(Caller(**fields_json), body_sha256)
    except (ValueError, TypeError) as exc:
        raise Unauthenticated(f"malformed caller: {exc}") from None


def caller_scope(
    caller: Caller, stores_in_region: Callable[[str], Iterable[str]]
) -> frozenset[str] | None:
    """Store ids ``caller`` may see; None = every store."""
    if caller.role in ("executive", "admin", "system"):
        return None
    if caller.role == "store_manager":
        return frozenset([caller.store]) if caller.store else frozenset()
    return frozenset(stores_in_region(caller.region)) if caller.region else frozenset()


def scope_params(
    name: str,
    params: dict[str, Any] | None,
    scope: frozenset[str] | None,
    camera_store: Callable[[str], str | None],
    cameras_of: Callable[[frozenset[str]], list[str]],
) -> dict[str, Any]:
    """``params`` limited to ``scope``: an omitted store or camera list becomes the scope's,
    a named one outside it raises :class:`AccessDenied`. A query with none of these
    parameters is refused for scoped callers unless it is in :data:`GLOBAL_QUERIES`, so a
    new query is closed until someone decides how it is scoped."""
    params = dict(params or {})
    if scope is None:
        return params
    scoped = False
    if "stores" in params or name in ("stores", "cameras"):
        scoped = True
        stores = params.get("stores")
        if stores is None:
            params["stores"] = sorted(scope)
        elif not isinstance(stores, list) or not set(map(str, stores)) <= scope:
            raise AccessDenied(f"stores {stores!r} are outside this caller's scope")
    if "camera_id" in params:
        scoped = True
        if camera_store(str(params["camera_id"])) not in scope:
            raise AccessDenied(f"camera {params['camera_id']!r} is outside this caller's scope")
    if "camera_ids" in params or name == "latest_counts":
        scoped = True
        ids = params.get("camera_ids")
        if ids is None:
            params["camera_ids"] = cameras_of(scope)
        elif not isinstance(ids, list) or any(camera_store(str(c)) not in scope for c in ids):
            raise AccessDenied(f"cameras {ids!r} are outside this caller's scope")
    if not scoped and name not in GLOBAL_QUERIES:
        raise AccessDenied(f"query {name!r} is not open to a caller limited to some stores")
    return params
