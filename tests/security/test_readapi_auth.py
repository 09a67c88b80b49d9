"""The read API answers only the dashboard, within the signed user's scope and role
(issue 10, item 4), and does not let slow or lying clients hold its threads (item 9).

A real server on a real DuckDB file: three stores in two regions, one camera and one open
alert each. Every endpoint is tried without a credential and with forged ones, then each
role's reads and writes are checked against what it may do.
"""

from __future__ import annotations

import http.client
import json
import socket
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from storelens.data import readapi
from storelens.data.apiauth import MAX_TTL_S, SYSTEM, Caller, sign_request
from storelens.data.errors import AccessDenied, Unauthenticated
from storelens.data.readapi import serve
from storelens.data.reader import ApiReader, published_api, published_secret
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.sink import AlertRow, to_arrow
from storelens.data.writer import Writer
from storelens.kernel.discovery import discovery_path

STORES = {"s1": "north", "s2": "north", "s3": "south"}
SALES = b"ts,store_id,amount,register\n2026-01-05T10:00:00+00:00,s1,12.5,1\n"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from storelens.data.catalog import upsert_camera, upsert_store

    db = tmp_path_factory.mktemp("readapi-auth") / "auth.duckdb"
    writer = Writer(db)

    def seed(con) -> None:
        for sid, region in STORES.items():
            upsert_store(con, sid, f"Store {sid}", region, "UTC", 8, 20, 500.0)
            upsert_camera(con, f"{sid}-door", sid, "Door", "entrance", None, [], [])

    writer.execute_admin(seed)
    now = datetime.now(UTC)
    writer.append(
        "alerts",
        to_arrow(
            [
                AlertRow((now - timedelta(minutes=i)).timestamp(), f"{s}-door", "queue_wait", s)
                for i, s in enumerate(STORES)
            ],
            BATCH_SCHEMAS["alerts"],
        ),
        "auth:alerts",
    )
    writer.flush(30)
    server = serve(writer, port=0, publish=True)
    cur = writer.cursor()
    alert_ids = dict(cur.execute("SELECT store_id, alert_id FROM alerts").fetchall())
    cur.close()
    try:
        yield {"server": server, "writer": writer, "db": db, "alerts": alert_ids}
    finally:
        server.stop()
        writer.close()


def client(api: dict, caller: Caller = SYSTEM) -> ApiReader:
    return ApiReader(api["server"].url, secret=published_secret(api["db"]), caller=caller)


def raw(api: dict, method: str, path: str, body: bytes = b"", auth: str | None = None):
    url = api["server"].url.removeprefix("http://")
    host, port = url.split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=10)
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    try:
        con.request(method, path, body=body or None, headers=headers)
        response = con.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        con.close()


def written(api: dict) -> tuple:
    api["writer"].flush(30)
    cur = api["writer"].cursor()
    try:
        return (
            cur.execute("SELECT count(*) FROM alerts WHERE acknowledged_ts IS NOT NULL").fetchall(),
            cur.execute("SELECT count(*) FROM live_view_log").fetchall(),
            cur.execute("SELECT count(*) FROM transactions").fetchall(),
        )
    finally:
        cur.close()


ENDPOINTS = [
    ("GET", "/health", b""),
    (
        "POST",
        "/query",
        json.dumps(
            {"name": "alerts", "params": {"stores": ["s1"], "since": "2000-01-01T00:00:00Z"}}
        ).encode(),
    ),
    ("POST", "/alerts/ack", json.dumps({"alert_id": 1, "user": "ceo"}).encode()),
    (
        "POST",
        "/live_view",
        json.dumps({"user_name": "ceo", "role": "admin", "camera_id": "s1-door"}).encode(),
    ),
    ("POST", "/import/sales?name=s.csv", SALES),
    ("POST", "/import/shifts?name=s.csv", b"store_id,staff_role,start_ts,end_ts,hourly_cost\n"),
]


def _forgeries(secret: bytes, method: str, path: str, body: bytes) -> dict[str, str | None]:
    good = sign_request(secret, SYSTEM, method, path, body)
    scheme, token = good.split(" ")
    encoded, expires, nonce, digest, mac = token.split(".")
    admin = sign_request(
        b"another secret of the same size!", Caller("ceo", "admin"), method, path, body
    )
    manager = sign_request(secret, Caller("mia", "store_manager", store="s1"), method, path, body)
    m_encoded, m_expires, m_nonce, m_digest, m_mac = manager.split(" ")[1].split(".")
    return {
        "missing": None,
        "empty": "",
        "wrong secret": admin,
        "expired": sign_request(secret, SYSTEM, method, path, body, ttl_s=-5),
        "caller swapped under a valid mac": f"{scheme} {m_encoded}.{expires}.{nonce}.{digest}.{mac}",
        "expiry extended": f"{scheme} {encoded}.{int(expires) + 3600}.{nonce}.{digest}.{mac}",
        "manager upgraded to system": f"{scheme} {encoded}.{m_expires}.{m_nonce}.{m_digest}."
        + m_mac,
        "bearer scheme": f"Bearer {token}",
        "garbage": "StoreLens x.y.z",
        "old three-part form": f"{scheme} {encoded}.{expires}.{mac}",
        "zero mac": f"{scheme} {m_encoded}.{m_expires}.{m_nonce}.{m_digest}.{'0' * 64}",
        "another method": sign_request(
            secret, SYSTEM, "GET" if method == "POST" else "POST", path, body
        ),
        "another path": sign_request(secret, SYSTEM, method, path + "x", body),
        "lifetime of 10**9 s": sign_request(secret, SYSTEM, method, path, body, ttl_s=10**9),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_every_endpoint_refuses_missing_and_forged_credentials(api: dict, endpoint) -> None:
    method, path, body = endpoint
    before = written(api)
    for what, auth in _forgeries(published_secret(api["db"]) or b"", method, path, body).items():
        status, payload = raw(api, method, path, body, auth)
        assert status == 401, (what, status, payload)
        assert payload["type"] == "Unauthenticated", (what, payload)
    assert written(api) == before  # nothing acknowledged, logged or imported


def test_secret_is_per_start_and_in_a_private_file(api: dict, tmp_path: Path) -> None:
    info = discovery_path(api["db"])
    assert stat.S_IMODE(info.stat().st_mode) == 0o600
    assert json.loads(info.read_text())["secret"] == api["server"].secret.hex()
    other = serve(Writer(tmp_path / "other.duckdb"), port=0, publish=True)
    try:
        assert other.secret != api["server"].secret
        # A credential for one start does not open another.
        status, _ = raw(
            {"server": other},
            "GET",
            "/health",
            auth=sign_request(api["server"].secret, SYSTEM, "GET", "/health"),
        )
        assert status == 401
    finally:
        other.stop()
        other.writer.close()


def test_published_reader_signs_its_requests(api: dict) -> None:
    reader = published_api(api["db"])
    assert reader is not None and reader.health()["ok"] is True
    with pytest.raises(Unauthenticated, match="no credential"):
        ApiReader(api["server"].url).query("stores", {})  # without the secret: refused


class CapturingProxy:
    """A man in the middle on a real socket: forwards each request to the read API and
    keeps what it saw (request line, headers, body), as an attacker who captured the
    dashboard's traffic would have it."""

    def __init__(self, target_url: str) -> None:
        self.target = target_url.removeprefix("http://").split(":")
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.seen: list[tuple[str, str, dict[str, str], bytes]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                stream = conn.makefile("rb")
                method, target, _ = stream.readline().decode().split(" ", 2)
                headers = {}
                while (line := stream.readline().decode()) not in ("\r\n", ""):
                    key, _, value = line.partition(":")
                    headers[key.strip()] = value.strip()
                body = stream.read(int(headers.get("Content-Length", "0")))
                self.seen.append((method, target, headers, body))
                forward = {k: v for k, v in headers.items() if k.lower() != "connection"}
                host, port = self.target
                upstream = http.client.HTTPConnection(host, int(port), timeout=10)
                upstream.request(method, target, body=body or None, headers=forward)
                answer = upstream.getresponse()
                payload = answer.read()
                upstream.close()
                head = f"HTTP/1.1 {answer.status} {answer.reason}\r\n"
                head += f"Content-Type: {answer.getheader('Content-Type')}\r\n"
                head += f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
                conn.sendall(head.encode() + payload)

    def close(self) -> None:
        self.sock.close()


def test_a_captured_request_replays_nothing(api: dict) -> None:
    """Issue 18, item 9: a header captured from the dashboard's traffic used to open any
    query for as long as the client had asked (10**9 s was accepted). Now it opens only the
    request it was made for, once."""
    proxy = CapturingProxy(api["server"].url)
    try:
        reader = ApiReader(proxy.url, secret=published_secret(api["db"]), caller=MANAGER)
        rows = reader.query("alerts", {"stores": ["s1"], "since": SINCE})
        assert rows.height == 1  # the manager's own request went through the proxy
        assert reader.health()["ok"] is True
    finally:
        proxy.close()
    (_, q_target, q_headers, q_body), (h_method, h_target, h_headers, _) = proxy.seen
    assert q_target == "/query" and (h_method, h_target) == ("GET", "/health")
    before = written(api)

    def replay(target: str, body: bytes, headers: dict[str, str], method: str = "POST"):
        return raw(api, method, target, body, headers["Authorization"])

    # The same requests again: refused.
    for method, target, body, headers in (
        ("POST", q_target, q_body, q_headers),
        ("GET", h_target, b"", h_headers),
    ):
        status, payload = replay(target, body, headers, method)
        assert status == 401 and "already used" in payload["error"], payload
    # Altered: another query (the neighbour's store, every alert), another path, method.
    other_query = json.dumps({"name": "alerts", "params": {"stores": ["s2"], "since": SINCE}})
    altered = {
        "another body": replay(q_target, other_query.encode(), q_headers),
        "another path": replay("/alerts/ack", json.dumps({"alert_id": 1}).encode(), q_headers),
        "another method": replay("/health", b"", q_headers, method="GET"),
        "a write under a read's header": replay(
            "/live_view", json.dumps({"camera_id": "s1-door"}).encode(), q_headers
        ),
    }
    for what, (status, payload) in altered.items():
        assert status == 401 and payload["type"] == "Unauthenticated", (what, payload)
    assert written(api) == before


def test_a_new_body_under_a_fresh_header_is_refused_after_reading(api: dict) -> None:
    """Signed for one body, sent with another (never seen before, so not a replay)."""
    secret = published_secret(api["db"]) or b""
    body = json.dumps({"name": "stores", "params": {}}).encode()
    auth = sign_request(secret, MANAGER, "POST", "/query", body)
    other = json.dumps({"name": "stores", "params": {"stores": ["s3"]}}).encode()
    status, payload = raw(api, "POST", "/query", other, auth)
    assert status == 401 and "body does not match" in payload["error"], payload


@pytest.mark.parametrize(
    ("ttl_s", "accepted"), [(60, True), (MAX_TTL_S, True), (MAX_TTL_S + 60, False), (10**9, False)]
)
def test_credential_lifetime_is_capped(api: dict, ttl_s: int, accepted: bool) -> None:
    secret = published_secret(api["db"]) or b""
    status, payload = raw(
        api, "GET", "/health", auth=sign_request(secret, SYSTEM, "GET", "/health", ttl_s=ttl_s)
    )
    if accepted:
        assert status == 200, payload
    else:
        assert status == 401 and f"lifetime over {MAX_TTL_S} s" in payload["error"], payload


MANAGER = Caller("mia", "store_manager", store="s1")
LEAD = Caller("rob", "regional_lead", region="north")
EXEC = Caller("ceo", "executive")
ADMIN = Caller("ada", "admin")
SINCE = "2000-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("caller", "stores"),
    [
        (MANAGER, ["s1"]),
        (LEAD, ["s1", "s2"]),
        (EXEC, ["s1", "s2", "s3"]),
        (ADMIN, ["s1", "s2", "s3"]),
    ],
    ids=["manager", "lead", "executive", "admin"],
)
def test_unscoped_queries_return_only_the_callers_stores(api, caller, stores) -> None:
    reader = client(api, caller)
    assert sorted(reader.query("stores", {})["store_id"].to_list()) == stores
    assert sorted(reader.query("cameras", {})["store_id"].to_list()) == stores
    cams = reader.query("latest_counts", {})["camera_id"].to_list()
    assert sorted(cams) == [f"{s}-door" for s in stores]


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("stores", {"stores": ["s3"]}),
        ("cameras", {"stores": ["s1", "s3"]}),
        ("alerts", {"stores": ["s3"], "since": SINCE}),
        ("metrics", {"stores": ["s3"], "start": "2026-01-01", "end": "2026-01-07"}),
        ("zone_metrics", {"stores": ["s3"], "start": "2026-01-01", "end": "2026-01-07"}),
        ("position_heatmap", {"stores": ["s3"], "since": SINCE}),
        ("people_per_minute", {"camera_id": "s3-door", "since": SINCE}),
        ("latest_counts", {"camera_ids": ["s1-door", "s3-door"]}),
    ],
)
def test_named_stores_outside_the_scope_are_refused(api, name, params) -> None:
    for caller in (MANAGER, LEAD):
        with pytest.raises(AccessDenied):
            client(api, caller).query(name, params)
    client(api, EXEC).query(name, params)  # the same request is fine for an executive


def test_in_scope_reads_still_work(api) -> None:
    alerts = client(api, LEAD).query("alerts", {"stores": ["s1", "s2"], "since": SINCE})
    assert sorted(alerts["store_id"].to_list()) == ["s1", "s2"]
    client(api, MANAGER).query("people_per_minute", {"camera_id": "s1-door", "since": SINCE})


def test_acknowledging_needs_a_role_and_the_store_and_records_the_signed_name(api) -> None:
    alerts = api["alerts"]
    with pytest.raises(AccessDenied, match="executive may not acknowledge"):
        client(api, EXEC).ack_alert(alerts["s1"], "ceo")
    with pytest.raises(AccessDenied, match="outside this caller's stores"):
        client(api, MANAGER).ack_alert(alerts["s2"], "mia")
    with pytest.raises(AccessDenied):
        client(api, MANAGER).ack_alert(999_999, "mia")  # unknown alert: no store, no ack
    assert client(api, MANAGER).ack_alert(alerts["s1"], "ceo") is True  # body name ignored
    cur = api["writer"].cursor()
    by = cur.execute("SELECT store_id, acknowledged_by FROM alerts ORDER BY 1").fetchall()
    cur.close()
    assert by == [("s1", "mia"), ("s2", None), ("s3", None)]


def test_live_view_rows_name_the_signed_caller_and_stay_in_scope(api) -> None:
    with pytest.raises(AccessDenied):
        client(api, MANAGER).log_live_view("mia", "store_manager", "s3-door")
    client(api, MANAGER).log_live_view("ceo", "admin", "s1-door")  # forged name and role
    api["writer"].flush(30)
    cur = api["writer"].cursor()
    rows = cur.execute("SELECT user_name, role, camera_id FROM live_view_log").fetchall()
    cur.close()
    assert rows == [("mia", "store_manager", "s1-door")]


def test_only_admins_import(api) -> None:
    for caller in (MANAGER, LEAD, EXEC):
        with pytest.raises(AccessDenied, match="may not import"):
            client(api, caller).import_file("sales", "s.csv", SALES)
    report = client(api, ADMIN).import_file("sales", "s.csv", SALES)
    assert report["rows_total"] == 1 and report["errors_total"] == 0, report
    assert written(api)[2] == [(1,)]  # the one sale row is in


# ----------------------------------------------------------------- slow/lying clients


@pytest.mark.parametrize("length", ["-1", "abc", "1e9"])
def test_bad_content_length_is_a_400_not_a_hung_thread(api, length: str) -> None:
    url = api["server"].url.removeprefix("http://")
    host, port = url.split(":")
    con = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        con.putrequest("POST", "/query")
        con.putheader("Authorization", sign_request(api["server"].secret, SYSTEM, "POST", "/query"))
        con.putheader("Content-Length", length)
        con.endheaders()
        response = con.getresponse()
        body = json.loads(response.read())
    finally:
        con.close()
    assert response.status == 400
    assert "Content-Length must be a byte count" in body["error"]


def test_half_sent_requests_are_dropped(api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readapi._Handler, "timeout", 0.5)  # the real one is 10 s
    host, port = api["server"].url.removeprefix("http://").split(":")
    socks = []
    try:
        for _ in range(20):
            s = socket.create_connection((host, int(port)), timeout=10)
            s.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Len")  # and then nothing
            socks.append(s)
        deadline = time.monotonic() + 30
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            assert s.recv(1024) == b"", "the server kept a half-sent request open"
    finally:
        for s in socks:
            s.close()
    assert client(api).health()["ok"] is True  # and it still serves
