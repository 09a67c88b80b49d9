"""Session cookies and the routes that hand them to the browser (issue 10, item 3):
signature, expiry, revocation across restarts, one-time grants, same-origin only, and
the cookie's flags. The browser side is in test_browser_live_and_session.py."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.testclient import TestClient
from storelens.dashboard import websession
from storelens.dashboard.asgi import BlockPaths, session_end, session_start
from storelens.dashboard.websession import COOKIE_NAME, GrantStore, SessionCookies

SECRET = b"0123456789abcdef0123456789abcdef"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_cookie_round_trip_and_expiry(tmp_path: Path) -> None:
    clock = Clock()
    cookies = SessionCookies(SECRET, tmp_path / "revoked", lifetime_s=3600, clock=clock)
    value = cookies.issue("mia")
    claim = cookies.verify(value)
    assert claim is not None and claim.user == "mia" and claim.expires == clock.now + 3600
    clock.now += 3599
    assert cookies.verify(value) is not None
    clock.now += 1
    assert cookies.verify(value) is None  # expired


@pytest.mark.parametrize(
    "forge",
    [
        lambda v: v.replace("v1.", "v2.", 1),
        lambda v: "v1.YWRh." + v.split(".", 2)[2],  # "ada" instead of "mia", same MAC
        lambda v: v.rsplit(".", 1)[0] + "." + "0" * 64,
        lambda v: v.rsplit(".", 2)[0] + ".9999999999." + v.rsplit(".", 1)[1],  # longer expiry
        lambda v: "",
        lambda v: "x" * 600,
        lambda v: "v1.%%%.a.1.b",
    ],
)
def test_forged_values_are_refused(tmp_path: Path, forge) -> None:
    cookies = SessionCookies(SECRET, tmp_path / "revoked")
    assert cookies.verify(forge(cookies.issue("mia"))) is None


def test_another_secret_refuses(tmp_path: Path) -> None:
    value = SessionCookies(SECRET, tmp_path / "r").issue("mia")
    assert SessionCookies(b"another secret, 16+ bytes", tmp_path / "r").verify(value) is None


def test_revocation_survives_a_restart_and_only_hits_that_session(tmp_path: Path) -> None:
    revoked = tmp_path / "revoked"
    first = SessionCookies(SECRET, revoked)
    mine, other_tab = first.issue("mia"), first.issue("mia")
    assert first.revoke(mine) is True
    assert stat.S_IMODE(revoked.stat().st_mode) == 0o600
    restarted = SessionCookies(SECRET, revoked)
    assert restarted.verify(mine) is None
    assert restarted.verify(other_tab) is not None
    assert restarted.revoke("garbage") is False


def test_secret_file_is_private_and_stable(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.delenv("STORELENS_SESSION_SECRET", raising=False)
    first = websession.session_secret()
    assert len(first) == 64 and websession.session_secret() == first
    assert stat.S_IMODE((tmp_path / "session.secret").stat().st_mode) == 0o600


@pytest.mark.parametrize("hours", ["abc", "0", "-1", "10000"])
def test_bad_session_hours_is_a_clear_error(tmp_path: Path, monkeypatch, hours: str) -> None:
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path / hours))
    monkeypatch.setenv("STORELENS_SESSION_HOURS", hours)
    with pytest.raises(ValueError, match="STORELENS_SESSION_HOURS must be a number of hours"):
        websession.session_cookies()


def test_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        SessionCookies(b"short")


def test_grants_are_one_time_and_short_lived() -> None:
    clock = Clock()
    grants = GrantStore(ttl_s=60, clock=clock)
    grant = grants.issue("cookie-value")
    assert grants.redeem(grant) == "cookie-value"
    assert grants.redeem(grant) is None  # used
    late = grants.issue("cookie-value")
    clock.now += 61
    assert grants.redeem(late) is None  # expired
    assert grants.redeem("never-issued") is None


# ------------------------------------------------------------------------------ routes


@pytest.fixture
def client(tmp_path: Path, monkeypatch) -> TestClient:
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.setenv("STORELENS_SESSION_SECRET", SECRET.decode())
    monkeypatch.delenv("STORELENS_SESSION_HOURS", raising=False)
    app = Starlette(
        routes=[
            Route("/session/start", session_start, methods=["POST"]),
            Route("/session/end", session_end, methods=["POST"]),
            Route("/_stcore/metrics", lambda request: None),
        ],
        middleware=[Middleware(BlockPaths)],
    )
    return TestClient(app, base_url="http://dash.local:8501")


SAME_ORIGIN = {"Origin": "http://dash.local:8501"}


def test_grant_becomes_an_httponly_strict_cookie_once(client: TestClient) -> None:
    value = websession.session_cookies().issue("mia")
    grant = websession.GRANTS.issue(value)
    response = client.post("/session/start", json={"grant": grant}, headers=SAME_ORIGIN)
    assert response.status_code == 204
    header = response.headers["set-cookie"]
    assert header.startswith(f"{COOKIE_NAME}={value};")
    lowered = header.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/" in lowered
    assert "max-age=43200" in lowered  # 12 h by default
    again = client.post("/session/start", json={"grant": grant}, headers=SAME_ORIGIN)
    assert again.status_code == 400 and "set-cookie" not in again.headers


@pytest.mark.parametrize(
    "origin", [None, "http://evil.example", "http://dash.local:9999", "null"], ids=str
)
def test_session_routes_refuse_other_origins(client: TestClient, origin: str | None) -> None:
    grant = websession.GRANTS.issue(websession.session_cookies().issue("mia"))
    headers = {} if origin is None else {"Origin": origin}
    for path, body in (("/session/start", {"grant": grant}), ("/session/end", {})):
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 403, (path, origin)
        assert "set-cookie" not in response.headers
    # The refused grant was not consumed by the cross-origin try.
    assert client.post("/session/start", json={"grant": grant}, headers=SAME_ORIGIN).is_success


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"[]", b'{"grant": 5}', b'{"grant": "' + b"x" * 200 + b'"}']
)
def test_bad_grant_bodies_get_a_clear_400(client: TestClient, body: bytes) -> None:
    response = client.post("/session/start", content=body, headers=SAME_ORIGIN)
    assert response.status_code == 400
    assert response.json() == {"error": "unknown, used or expired grant"}


def test_end_clears_the_cookie(client: TestClient) -> None:
    response = client.post("/session/end", headers=SAME_ORIGIN)
    assert response.status_code == 204
    header = response.headers["set-cookie"].lower()
    assert header.startswith(f"{COOKIE_NAME}=") and "max-age=0" in header


def test_streamlit_metrics_are_not_served(client: TestClient) -> None:
    assert client.get("/_stcore/metrics").status_code == 404
    assert client.get("/_stcore/metrics/").status_code == 404
