"""Who may call the read API, and what each caller may see and change.

The read API (data/readapi.py) listens on 127.0.0.1, but every local process can reach
that, so loopback alone is no credential. Instead:

- **A per-start secret.** Each start of the API draws 32 random bytes and writes them, with
  its URL, to ``<db>.services.json`` created 0600 (:mod:`storelens.kernel.discovery`):
  only the account that runs the pipeline (and so the dashboard) can read it. The secret never crosses the wire.
- **A signed caller on every request.** ``Authorization: StoreLens <caller>.<expires>.<mac>``
  where ``caller`` is the base64 JSON of :class:`Caller` (name, role, store, region) and
  ``mac`` an HMAC-SHA256 of both under the secret. The dashboard signs its signed-in user
  per request (valid 60 s); tools on the same account (``storelens kpi``, imports) sign as
  ``system``.
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


def sign_caller(
    secret: bytes, caller: Caller, ttl_s: int = DEFAULT_TTL_S, now: float | None = None
) -> str:
    """The ``Authorization`` header value for one request by ``caller``."""
    raw = json.dumps(asdict(caller), separators=(",", ":"), sort_keys=True).encode()
    encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    expires = int(time.time() if now is None else now) + ttl_s
    body = f"{encoded}.{expires}"
    return f"{SCHEME} {body}.{_mac(secret, body)}"


def verify_caller(secret: bytes, header: str | None, now: float | None = None) -> Caller:
    """The caller a valid header names; :class:`Unauthenticated` for anything else."""
    if not header:
        raise Unauthenticated("no credential: send Authorization: StoreLens <signed caller>")
    scheme, _, token = header.partition(" ")
    if scheme != SCHEME or len(token) > 4096:
        raise Unauthenticated(f"unknown credential scheme {scheme[:20]!r}")
    try:
        encoded, expires_s, mac = token.split(".")
        expires = int(expires_s)
    except ValueError:
        raise Unauthenticated("malformed credential") from None
    if not hmac.compare_digest(mac, _mac(secret, f"{encoded}.{expires_s}")):
        raise Unauthenticated("credential signature does not match")
    if expires < (time.time() if now is None else now):
        raise Unauthenticated("credential expired")
    try:
        fields = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        return Caller(**fields)
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
