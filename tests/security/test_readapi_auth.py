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
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from storelens.data import readapi
from storelens.data.apiauth import SYSTEM, Caller, sign_caller
from storelens.data.errors import AccessDenied, Unauthenticated
from storelens.data.readapi import serve
from storelens.data.reader import ApiReader, published_api, published_secret
from storelens.data.schemas import BATCH_SCHEMAS
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
        pa.table(
            {
                "ts": [now - timedelta(minutes=i) for i in range(3)],
                "camera_id": [f"{s}-door" for s in STORES],
                "kind": ["queue_wait"] * 3,
                "detail": [f"queue at {s}" for s in STORES],
            },
            schema=BATCH_SCHEMAS["alerts"],
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


def _forgeries(secret: bytes) -> dict[str, str | None]:
    good = sign_caller(secret, SYSTEM)
    scheme, token = good.split(" ")
    encoded, expires, mac = token.split(".")
    admin = sign_caller(b"another secret of the same size!", Caller("ceo", "admin"))
    manager = sign_caller(secret, Caller("mia", "store_manager", store="s1"))
    m_encoded, m_expires, _ = manager.split(" ")[1].split(".")
    return {
        "missing": None,
        "empty": "",
        "wrong secret": admin,
        "expired": sign_caller(secret, SYSTEM, ttl_s=-5),
        "caller swapped under a valid mac": f"{scheme} {m_encoded}.{expires}.{mac}",
        "expiry extended": f"{scheme} {encoded}.{int(expires) + 3600}.{mac}",
        "manager upgraded to system": f"{scheme} {encoded}.{m_expires}."
        + manager.rsplit(".", 1)[1],
        "bearer scheme": f"Bearer {token}",
        "garbage": "StoreLens x.y.z",
        "zero mac": f"{scheme} {m_encoded}.{m_expires}.{'0' * 64}",
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[1] for e in ENDPOINTS])
def test_every_endpoint_refuses_missing_and_forged_credentials(api: dict, endpoint) -> None:
    method, path, body = endpoint
    before = written(api)
    for what, auth in _forgeries(published_secret(api["db"]) or b"").items():
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
            {"server": other}, "GET", "/health", auth=sign_caller(api["server"].secret, SYSTEM)
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
        con.putheader("Authorization", sign_caller(api["server"].secret, SYSTEM))
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
