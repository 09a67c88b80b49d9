"""Read path: the writer's read API answers the same named queries as a local read, and a
reader in another process never fails on the writer's lock."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal
from storelens.data import kpi
from storelens.data.errors import ImportRejected, InvalidParams, UnknownQuery
from storelens.data.readapi import serve
from storelens.data.reader import ApiReader, LocalReader, WriterReader, open_reader
from storelens.data.writer import Writer
from storelens.kernel.discovery import discovery_path

GOLDEN = Path(__file__).parent / "golden"
CHILD = Path(__file__).with_name("api_child.py")
PARAMS = {
    "stores": ["g1", "g2"],
    "start": date(2026, 2, 23),
    "end": date(2026, 3, 2),
    "granularity": "hour",
}


@pytest.fixture
def served(golden_db: Path):
    writer = Writer(golden_db)
    server = serve(writer, port=0, publish=False)
    yield writer, ApiReader(server.url, secret=server.secret)
    server.stop()
    writer.close()


@pytest.mark.parametrize("name", ["metrics", "zone_metrics"])
def test_api_reader_returns_what_a_local_read_returns(golden_db_master: Path, served, name: str):
    writer, api = served
    local = LocalReader(golden_db_master).query(name, PARAMS)
    assert local.height > 0
    assert_frame_equal(api.query(name, PARAMS), local)
    assert_frame_equal(WriterReader(writer).query(name, PARAMS), local)


def test_kpis_run_unchanged_over_the_api(served):
    _, api = served
    got = kpi.headline(api, "g1", date(2026, 3, 2), date(2026, 3, 2))
    assert got["visitors"] == 15
    assert got["conversion"] == pytest.approx(1 / 3)


def test_api_errors_come_back_as_domain_errors(served):
    _, api = served
    with pytest.raises(UnknownQuery):
        api.query("DROP TABLE stores", {})
    with pytest.raises(InvalidParams):
        api.query("metrics", {"stores": ["g1"], "start": "2026-03-02", "end": "2026-03-01"})
    with pytest.raises(InvalidParams):
        api.query("metrics", {**PARAMS, "sql": "SELECT 1"})  # extra fields are refused


def test_imports_and_acks_through_the_api(served):
    writer, api = served
    report = api.import_file(
        "sales", "more.csv", b"ts,store_id,amount\n2026-03-02T12:00:00,g1,9.5\n"
    )
    assert report["rows_added"] == 1
    with pytest.raises(ImportRejected) as info:
        api.import_file("sales", "bad.csv", b"ts,store_id,amount\n2026-03-02T12:00:00,zz,9.5\n")
    assert info.value.report["errors"][0]["line"] == 2
    alerts = kpi.alert_list(api, kpi.Scope.everything(), ["g1"], since=datetime(2026, 3, 1))
    assert api.ack_alert(int(alerts["alert_id"][0]), "maria") is True
    api.log_live_view("maria", "manager", "g1-checkout")
    writer.flush()
    assert api.query("table_sizes", {}).filter(table="live_view_log")["rows"][0] == 1


def test_reader_in_another_process_never_fails_on_the_writers_lock(tmp_path: Path):
    path = tmp_path / "live.duckdb"
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith("ready"), child.stderr.read() if child.stderr else line
        assert discovery_path(path).exists()
        # A plain LocalReader on the locked file: finds the published API instead of failing.
        reader = LocalReader(path)
        today = datetime.now(UTC).date()
        visitors, reads, deadline = 0, 0, time.monotonic() + 60
        while reads < 20 or (visitors == 0 and time.monotonic() < deadline):
            frame = reader.query(
                "metrics", {"stores": ["s1"], "start": today - timedelta(days=1), "end": today}
            )
            visitors = int(frame["visitors"].sum()) if frame.height else 0
            reads += 1
            time.sleep(0.1)
        assert visitors > 0  # rows written by the other process become visible
        assert isinstance(open_reader(path), ApiReader)
        alerts = reader.query("alerts", {"stores": ["s1"], "since": datetime(2000, 1, 1)})
        assert reader.ack_alert(int(alerts["alert_id"][0]), "maria") is True
    finally:
        child.kill()
        child.wait(timeout=30)


def test_local_reader_lets_go_so_a_writer_can_start(golden_db: Path):
    reader = LocalReader(golden_db, hold_s=0.3)
    assert reader.query("stores", {}).height == 2
    code = (
        "from storelens.data.writer import Writer\n"
        f"w = Writer({str(golden_db)!r})\n"
        "w.close()\n"
        "print('writer started')\n"
    )
    # The writer waits out the reader's idle hold instead of failing on the lock.
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "writer started" in out.stdout
    assert reader.query("stores", {}).height == 2  # and the reader reopens afterwards
    reader.close()
