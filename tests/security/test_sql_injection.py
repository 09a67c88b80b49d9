"""SQL only with bound parameters (issue 6, item 3), shown by behaviour: hostile ids sent
through the real read API over HTTP, the in-process reader, the KPI layer, the importer
and the live-view audit log change nothing and widen nothing."""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from storelens.data import kpi
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.errors import AccessDenied, DataError, ImportRejected
from storelens.data.imports import import_content
from storelens.data.readapi import serve
from storelens.data.reader import ApiReader, WriterReader
from storelens.data.writer import Writer

PAYLOADS = [
    "x'; DROP TABLE stores; --",
    "s1' OR '1'='1",
    's1"; DELETE FROM cameras; --',
    "') UNION SELECT * FROM stores --",
    "s1'||(SELECT string_agg(store_id, ',') FROM stores)||'",
    "$ids",
    "?",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    db = tmp_path_factory.mktemp("inject") / "inject.duckdb"
    writer = Writer(db)

    def seed(con) -> None:
        for sid, region in (("s1", "north"), ("s2", "south")):
            upsert_store(con, sid, f"Store {sid}", region, "UTC", 8, 20, 500.0)
            upsert_camera(con, f"{sid}-door", sid, "Door", "entrance", "file.gif", [], [])

    writer.execute_admin(seed)
    writer.flush(30)
    api = serve(writer, port=0, publish=False)
    try:
        yield {
            "writer": writer,
            "api": ApiReader(api.url, secret=api.secret),
            "local": WriterReader(writer),
        }
    finally:
        api.stop()
        writer.close()


def fingerprint(writer: Writer) -> dict[str, Any]:
    cur = writer.cursor()
    tables = [
        r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()
    ]
    counts = {t: cur.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in tables}
    stores = cur.execute("SELECT * FROM stores ORDER BY store_id").fetchall()
    cameras = cur.execute("SELECT camera_id, store_id FROM cameras ORDER BY 1").fetchall()
    return {"tables": tables, "counts": counts, "stores": stores, "cameras": cameras}


@pytest.mark.parametrize("reader_kind", ["api", "local"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_ids_in_named_queries_change_and_widen_nothing(
    served, reader_kind: str, payload: str
) -> None:
    reader = served[reader_kind]
    before = fingerprint(served["writer"])
    assert reader.query("stores", {"stores": [payload]}).height == 0
    assert reader.query("cameras", {"stores": [payload]}).height == 0
    since = datetime.now(UTC) - timedelta(days=1)
    assert reader.query("people_per_minute", {"camera_id": payload, "since": since}).height == 0
    with contextlib.suppress(DataError):  # a refused parameter is fine; a changed database is not
        reader.query("alerts", {"stores": [payload], "since": since})
    assert fingerprint(served["writer"]) == before


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_store_ids_through_kpis_and_scope(served, payload: str) -> None:
    reader = served["api"]
    before = fingerprint(served["writer"])
    flt = kpi.KpiFilter(date.today() - timedelta(days=7), date.today(), stores=(payload,))
    for fn in (kpi.visitors, kpi.conversion, kpi.satisfaction):
        frame = fn(reader, flt, kpi.Scope.everything())
        assert isinstance(frame, pl.DataFrame)
        assert set(frame["store_id"].to_list()) <= {payload}
    # A store manager of s1 forging a wider store id is refused, not widened.
    with pytest.raises(AccessDenied):
        kpi.visitors(reader, flt, kpi.Scope.of("s1"))
    assert fingerprint(served["writer"]) == before


def test_hostile_import_is_rejected_whole_with_per_row_reasons(served) -> None:
    before = fingerprint(served["writer"])
    out = io.StringIO()
    table = csv.writer(out, lineterminator="\n")
    table.writerow(["ts", "store_id", "amount"])
    table.writerow(["2026-03-02T08:00:00Z", "s1", "10.00"])
    table.writerows([f"2026-03-02T09:{i:02d}:00Z", p, "12.50"] for i, p in enumerate(PAYLOADS))
    content = out.getvalue().encode()
    with pytest.raises(ImportRejected) as info:
        import_content(served["writer"], "sales", "hostile.csv", content)
    report = info.value.report
    assert report.errors_total == len(PAYLOADS)
    assert [e.line for e in report.errors] == list(range(3, 3 + len(PAYLOADS)))
    assert all("not a known store" in e.reason for e in report.errors)
    assert fingerprint(served["writer"]) == before  # the one good row was not imported either


def test_hostile_text_in_the_live_view_log_is_stored_literally(served) -> None:
    from storelens.data.apiauth import Caller

    payload = PAYLOADS[0]
    # The API records the signed caller's name (not one from the body): put the text there.
    reader = served["api"].for_caller(Caller(payload, "admin"))
    reader.log_live_view(payload, "admin", "s1-door'; DELETE FROM alerts; --")
    served["writer"].flush(30)
    cur = served["writer"].cursor()
    rows = cur.execute(
        "SELECT user_name, camera_id FROM live_view_log WHERE role = 'admin'"
    ).fetchall()
    assert (payload, "s1-door'; DELETE FROM alerts; --") in rows
    assert cur.execute("SELECT count(*) FROM stores").fetchall()[0][0] == 2


def test_oversized_upload_is_refused_before_it_is_read(served) -> None:
    import http.client
    import json
    from urllib.parse import urlsplit

    from storelens.data.readapi import MAX_IMPORT_BODY

    before = fingerprint(served["writer"])
    url = urlsplit(served["api"].base_url)
    con = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        con.putrequest("POST", "/import/sales?name=huge.csv")
        con.putheader("Content-Length", str(MAX_IMPORT_BODY + 1))
        api = served["api"]
        auth = api._headers(api.secret, "POST", "/import/sales?name=huge.csv")["Authorization"]
        con.putheader("Authorization", auth)
        con.endheaders()
        con.send(b"ts,store_id,amount\n")  # the server must answer without waiting for the rest
        response = con.getresponse()
        body = json.loads(response.read())
    finally:
        con.close()
    assert response.status == 400
    assert "over" in body["error"] and body["type"] == "InvalidParams"
    assert fingerprint(served["writer"]) == before
