"""Who is signed in, what they may see, and how they signed in.

Three ways in, picked from ``.streamlit/secrets.toml``:

* **OIDC** when an ``[auth]`` table is configured: ``st.login()`` / ``st.user``. The
  identity's e-mail is mapped to a role by a ``[users.<name>]`` entry with the same
  ``email``; an identity without an entry gets no access (never a default role).
* **Local sign-in** when ``[users.<name>]`` entries carry a ``password_hash`` (salted
  scrypt, made by ``python -m storelens.dashboard.auth hash``). Failed attempts are rate-limited
  per user name.
* **Demo mode** when no users are configured, or env ``STORELENS_DEMO=1``: signed in as
  an executive (all stores, read-only) with a visible banner.

What a user may see is a :class:`data.kpi.Scope` handed to every KPI/query call, so the
data layer refuses stores outside it; widgets and URL parameters are never trusted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from storelens.data.apiauth import Caller
from storelens.data.kpi import Scope
from storelens.data.reader import Reader


class Role(StrEnum):
    STORE_MANAGER = "store_manager"
    REGIONAL_LEAD = "regional_lead"
    EXECUTIVE = "executive"
    ADMIN = "admin"


class AuthError(Exception):
    """A sign-in or configuration problem, phrased for the person signing in."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    store: str | None = None  # store managers
    region: str | None = None  # regional leads
    method: str = "local"  # local / oidc / demo

    @property
    def demo(self) -> bool:
        return self.method == "demo"

    @property
    def may_setup(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def may_acknowledge(self) -> bool:
        """Executives read only; everyone else may acknowledge alerts in their scope."""
        return self.role is not Role.EXECUTIVE


def api_caller(user: User) -> Caller:
    """The identity the read API checks for ``user`` (it derives the scope itself)."""
    return Caller(user.name, user.role.value, user.store, user.region)


def scope_for(user: User, reader: Reader) -> Scope:
    """The stores ``user`` may see, looked up in the stores table (never from the URL)."""
    if user.role in (Role.EXECUTIVE, Role.ADMIN):
        return Scope.everything()
    if user.role is Role.STORE_MANAGER:
        return Scope.of(user.store) if user.store else Scope(frozenset())
    stores = reader.query("stores", {})
    mine = stores.filter(stores["region"] == (user.region or "\x00"))["store_id"].to_list()
    return Scope(frozenset(mine))


# ----------------------------------------------------------------------- passwords

# scrypt with n=2**14, r=8 costs ~16 MiB and ~50 ms here: slow enough to make offline
# guessing expensive, fast enough for a sign-in form.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$<salt b64>$<hash b64>`` with a fresh 16-byte salt."""
    if not password:
        raise AuthError("a password must not be empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against :func:`hash_password`'s output."""
    try:
        scheme, n, r, p, salt_b64, hash_b64 = encoded.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(hash_b64)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt_b64),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(want),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


# ----------------------------------------------------------------------- rate limit


_SOURCE, _ALL = "\x00source:", "\x00all"  # cannot collide with a (stripped) user name


class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per user name within ``window_s``, and, so
    that one password tried across many names is not unlimited either, at most
    ``max_per_source`` per client address and ``max_total`` on the whole server.

    Process-wide (the Streamlit server is one process), keyed by the lower-cased name so
    a guesser cannot reset the count by opening a new browser session. The server-wide
    cap lets an attacker slow every sign-in for ``window_s``: the price of stopping a
    spray from many addresses, and far better than letting it run.
    """

    def __init__(
        self,
        max_failures: int = 5,
        window_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_per_source: int = 20,
        max_total: int = 100,
    ) -> None:
        self.max_failures, self.window_s, self.clock = max_failures, window_s, clock
        self.max_per_source, self.max_total = max_per_source, max_total
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        stamps = self._failures.setdefault(key.lower(), deque())
        while stamps and now - stamps[0] > self.window_s:
            stamps.popleft()
        return stamps

    def _limit(self, key: str) -> int:
        if key.startswith(_SOURCE):
            return self.max_per_source
        return self.max_total if key == _ALL else self.max_failures

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        with self._lock:
            stamps, limit = self._recent(key), self._limit(key)
            if len(stamps) < limit:
                return 0.0
            # Until enough old failures leave the window to be under the limit again.
            return max(0.0, self.window_s - (self.clock() - stamps[len(stamps) - limit]))

    @staticmethod
    def keys(name: str, source: str | None) -> list[str]:
        """The counters one sign-in attempt touches: its name, its address, the server."""
        return [name, *([_SOURCE + source] if source else []), _ALL]

    def failed(self, key: str) -> None:
        with self._lock:
            self._recent(key).append(self.clock())

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key.lower(), None)


# ----------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class UserEntry:
    name: str
    role: Role
    store: str | None
    region: str | None
    password_hash: str | None
    email: str | None

    def as_user(self, method: str) -> User:
        return User(self.name, self.role, self.store, self.region, method)


def parse_users(raw: Mapping[str, Any] | None) -> dict[str, UserEntry]:
    """``[users.<name>]`` tables -> entries; a bad entry raises AuthError naming it."""
    users: dict[str, UserEntry] = {}
    for name, entry in (raw or {}).items():
        where = f".streamlit/secrets.toml [users.{name}]"
        if not isinstance(entry, Mapping):
            raise AuthError(f"{where}: must be a table with role, store/region, password_hash")
        try:
            role = Role(str(entry.get("role", "")))
        except ValueError:
            raise AuthError(
                f"{where}: role must be one of {[r.value for r in Role]}, got {entry.get('role')!r}"
            ) from None
        store, region = entry.get("store"), entry.get("region")
        if role is Role.STORE_MANAGER and not store:
            raise AuthError(f'{where}: a store_manager needs store = "<store_id>"')
        if role is Role.REGIONAL_LEAD and not region:
            raise AuthError(f'{where}: a regional_lead needs region = "<region>"')
        users[str(name).lower()] = UserEntry(
            str(name).lower(),
            role,
            str(store) if store else None,
            str(region) if region else None,
            entry.get("password_hash"),
            str(entry["email"]).lower() if entry.get("email") else None,
        )
    return users


@dataclass(frozen=True)
class AuthConfig:
    mode: str  # "oidc" / "local" / "demo"
    users: dict[str, UserEntry]

    def user_for_email(self, email: str | None) -> User | None:
        if not email:
            return None
        for entry in self.users.values():
            if entry.email and entry.email == email.lower():
                return entry.as_user("oidc")
        return None


def auth_config(secrets_map: Mapping[str, Any], env: Mapping[str, str] | None = None) -> AuthConfig:
    """Which sign-in applies, from secrets and the environment (see module doc)."""
    env = os.environ if env is None else env
    users = parse_users(secrets_map.get("users"))
    if env.get("STORELENS_DEMO") == "1":
        return AuthConfig("demo", users)
    if secrets_map.get("auth"):
        return AuthConfig("oidc", users)
    if any(u.password_hash for u in users.values()):
        return AuthConfig("local", users)
    return AuthConfig("demo", users)


DEMO_USER = User("demo", Role.EXECUTIVE, method="demo")


def local_sign_in(
    config: AuthConfig,
    limiter: LoginLimiter,
    name: str,
    password: str,
    source: str | None = None,
) -> User:
    """Check a local sign-in; raises AuthError (same message for unknown user and bad
    password, so the form does not reveal which names exist). ``source`` is the client's
    address, so one address cannot try one password across many names."""
    key = (name or "").strip().lower()
    keys = LoginLimiter.keys(key, source)
    wait = max(limiter.retry_after(k) for k in keys)
    if wait > 0:
        raise AuthError(f"too many failed attempts; try again in {int(wait) + 1} s")
    entry = config.users.get(key)
    # Verify against a dummy hash for unknown names too: same cost, no timing oracle.
    encoded = entry.password_hash if entry and entry.password_hash else _DUMMY_HASH
    ok = verify_password(password or "", encoded) and entry is not None
    if not ok:
        for k in keys:
            limiter.failed(k)
        raise AuthError("unknown user name or wrong password")
    limiter.succeeded(key)
    assert entry is not None
    return entry.as_user("local")


_DUMMY_HASH = hash_password("not-a-real-password", salt=b"storelens-dummy!")


def main(argv: list[str]) -> int:
    """``python -m storelens.dashboard.auth hash``: print a password_hash for secrets.toml."""
    import getpass

    if argv[:1] != ["hash"]:
        print(
            "usage: python -m storelens.dashboard.auth hash   (reads the password from the terminal)"
        )
        return 2
    password = getpass.getpass("password: ")
    if password != getpass.getpass("again: "):
        print("passwords differ", file=sys.stderr)
        return 1
    print(f'password_hash = "{hash_password(password)}"')
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
