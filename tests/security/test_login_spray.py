"""Password spraying (issue 10, item 9): the lockout counted per user name only, so one
password tried across many names was unlimited. Now an address and the whole server have
their own caps, on top of the per-name one."""

from __future__ import annotations

import pytest
from storelens.dashboard.auth import (
    AuthConfig,
    AuthError,
    LoginLimiter,
    hash_password,
    local_sign_in,
    parse_users,
)

CONFIG = AuthConfig(
    "local",
    parse_users({"ann": {"role": "admin", "password_hash": hash_password("pw-ann")}}),
)


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def attempt(limiter: LoginLimiter, name: str, password: str, source: str | None) -> str:
    try:
        local_sign_in(CONFIG, limiter, name, password, source)
    except AuthError as exc:
        return "locked" if "too many" in str(exc) else "wrong"
    return "ok"


def test_one_address_spraying_many_names_is_stopped() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=5, window_s=300, clock=clock, max_per_source=20)
    results = [attempt(limiter, f"user{i}", "Summer2026!", "10.0.0.66") for i in range(25)]
    assert results == ["wrong"] * 20 + ["locked"] * 5
    # Even the right password waits at that address; another address is not affected.
    assert attempt(limiter, "ann", "pw-ann", "10.0.0.66") == "locked"
    assert attempt(limiter, "ann", "pw-ann", "10.0.0.7") == "ok"
    clock.now += 301  # the window passes
    assert attempt(limiter, "ann", "pw-ann", "10.0.0.66") == "ok"


def test_a_spray_from_many_addresses_hits_the_server_cap() -> None:
    limiter = LoginLimiter(window_s=300, clock=Clock(), max_per_source=20, max_total=100)
    results = [
        attempt(limiter, f"user{i}", "Summer2026!", f"10.1.{i // 250}.{i % 250}")
        for i in range(110)
    ]
    assert results == ["wrong"] * 100 + ["locked"] * 10


def test_per_name_limit_still_holds_across_addresses() -> None:
    limiter = LoginLimiter(max_failures=3, window_s=300, clock=Clock())
    results = [attempt(limiter, "ann", "guess", f"10.2.0.{i}") for i in range(5)]
    assert results == ["wrong"] * 3 + ["locked"] * 2


@pytest.mark.parametrize("name", ["\x00all", "\x00source:10.0.0.66"])
def test_user_names_cannot_reach_the_other_counters(name: str) -> None:
    limiter = LoginLimiter(max_failures=1, window_s=300, clock=Clock())
    attempt(limiter, name, "x", None)  # the form strips names; still, no collision
    assert attempt(limiter, "ann", "pw-ann", "10.0.0.66") == "ok"
