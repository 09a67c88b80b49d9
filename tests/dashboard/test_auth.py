"""Sign-in rules: password hashes, rate limiting, configuration, scope per role."""

from __future__ import annotations

from pathlib import Path

import pytest
from storelens.dashboard.auth import (
    AuthConfig,
    AuthError,
    LoginLimiter,
    Role,
    User,
    auth_config,
    hash_password,
    local_sign_in,
    parse_users,
    scope_for,
    verify_password,
)
from storelens.data.reader import LocalReader


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("s3cret"), hash_password("s3cret")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("s3cret", a) and verify_password("s3cret", b)
    assert not verify_password("S3cret", a)


@pytest.mark.parametrize("encoded", ["", "plain", "md5$x$y$z$a$b", "scrypt$x$8$1$AA==$AA=="])
def test_malformed_hash_never_verifies(encoded: str) -> None:
    assert not verify_password("anything", encoded)


def test_limiter_locks_after_failures_and_unlocks_after_window() -> None:
    now = [0.0]
    limiter = LoginLimiter(max_failures=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("Ann") == 0
        limiter.failed("ann")
    assert limiter.retry_after("ANN") == pytest.approx(60)
    assert limiter.retry_after("bob") == 0  # per user name
    now[0] = 61.0
    assert limiter.retry_after("ann") == 0


def _config() -> AuthConfig:
    users = parse_users(
        {"Ann": {"role": "store_manager", "store": "s1", "password_hash": hash_password("pw-ann")}}
    )
    return AuthConfig("local", users)


def test_local_sign_in_and_rate_limit() -> None:
    config, limiter = _config(), LoginLimiter(max_failures=2, window_s=300)
    user = local_sign_in(config, limiter, " ann ", "pw-ann")
    assert user == User("ann", Role.STORE_MANAGER, "s1", None, "local")
    for _ in range(2):
        with pytest.raises(AuthError, match="unknown user name or wrong password"):
            local_sign_in(config, limiter, "ann", "wrong")
    with pytest.raises(AuthError, match="too many failed attempts"):
        local_sign_in(config, limiter, "ann", "pw-ann")  # even the right password waits
    with pytest.raises(AuthError, match="unknown user name or wrong password"):
        local_sign_in(config, limiter, "nobody", "pw-ann")


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"role": "boss"}, "role must be one of"),
        ({"role": "store_manager"}, "needs store"),
        ({"role": "regional_lead"}, "needs region"),
        ("text", "must be a table"),
    ],
)
def test_bad_user_entries_are_named(entry: object, message: str) -> None:
    with pytest.raises(AuthError, match=message) as info:
        parse_users({"zed": entry})
    assert "[users.zed]" in str(info.value)


@pytest.mark.parametrize(
    ("secrets", "env", "mode"),
    [
        ({}, {}, "demo"),
        ({"users": {"a": {"role": "admin"}}}, {}, "demo"),  # no password anywhere
        ({"users": {"a": {"role": "admin", "password_hash": "scrypt$..."}}}, {}, "local"),
        (
            {"users": {"a": {"role": "admin", "password_hash": "scrypt$..."}}},
            {"STORELENS_DEMO": "1"},
            "demo",
        ),
        ({"auth": {"client_id": "x"}}, {}, "oidc"),
    ],
)
def test_mode_selection(secrets: dict, env: dict, mode: str) -> None:
    assert auth_config(secrets, env).mode == mode


def test_oidc_email_maps_to_entry_or_nothing() -> None:
    config = auth_config(
        {
            "auth": {"client_id": "x"},
            "users": {
                "lea": {"role": "regional_lead", "region": "north", "email": "Lea@Example.com"}
            },
        },
        {},
    )
    assert config.user_for_email("lea@example.com") == User(
        "lea", Role.REGIONAL_LEAD, None, "north", "oidc"
    )
    assert config.user_for_email("mallory@example.com") is None


@pytest.mark.parametrize(
    ("user", "stores"),
    [
        (User("m", Role.STORE_MANAGER, store="s2"), {"s2"}),
        (User("r", Role.REGIONAL_LEAD, region="north"), {"s1", "s2"}),
        (User("r", Role.REGIONAL_LEAD, region="nowhere"), set()),
        (User("e", Role.EXECUTIVE), None),
        (User("a", Role.ADMIN), None),
    ],
)
def test_scope_per_role(dashboard_db_master: Path, user: User, stores: set | None) -> None:
    scope = scope_for(user, LocalReader(dashboard_db_master))
    assert (None if scope.stores is None else set(scope.stores)) == stores
