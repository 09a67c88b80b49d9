"""Bad input gets a clear error and changes nothing (issue 6, item 2).

* invalid config files (unknown key, wrong type, bad polygon) name the file, the field and
  the fix, through load_config and through the real `storelens pipeline` command (exit 2,
  no traceback, no database created);
* an unreachable camera does not stop the pipeline: its status names it (masked) and the
  fix (checked on the shared real pipeline run);
* malformed CSV / Parquet imports are rejected whole with per-row reasons.
(The model file with a wrong hash: tests/test_registry.py.)
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from storelens.data.catalog import upsert_store
from storelens.data.errors import ImportRejected
from storelens.data.imports import import_content
from storelens.data.writer import Writer
from storelens.detectors.errors import ConfigError
from storelens.kernel.config import load_config
from storelens.kernel.discovery import discovery_path

REPO = Path(__file__).resolve().parents[2]
CAMERA = '[[cameras]]\ncamera_id = "door"\nname = "Door"\nsource = "clip.gif"\n'

BAD_CONFIGS = [
    # (what, TOML text, field named, fix text expected)
    (
        "unknown key",
        '[store]\nstore_id = "s1"\nopening_hour = 9\n',
        "store.opening_hour",
        "remove it or check its spelling",
    ),
    (
        "unknown camera key",
        CAMERA + "fps = 10\n",
        "cameras[0].fps",
        "remove it or check its spelling",
    ),
    ("wrong type", '[store]\nopen_hour = "nine"\n', "store.open_hour", "valid integer"),
    (
        "out of range",
        "[privacy]\nmin_group_size = 1\n",
        "privacy.min_group_size",
        "greater than or equal to 2",
    ),
    (
        "bad polygon (collinear)",
        CAMERA + '[[cameras.zones]]\nname = "q"\npolygon = [[0,0],[5,5],[10,10]]\n',
        "cameras[0].zones[0].polygon",
        "give ≥ 3 non-collinear points",
    ),
    (
        "bad polygon (two points)",
        CAMERA + '[[cameras.zones]]\nname = "q"\npolygon = [[0,0],[5,5]]\n',
        "cameras[0].zones[0].polygon",
        "at least 3",
    ),
    (
        "bad zone kind",
        CAMERA + '[[cameras.zones]]\nname = "q"\nkind = "vip"\npolygon = [[0,0],[5,0],[5,5]]\n',
        "cameras[0].zones[0].kind",
        "'staff'",
    ),
    (
        "degenerate line",
        CAMERA + "[[cameras.lines]]\nstart = [1,1]\nend = [1,1]\n",
        "cameras[0].lines[0]",
        "give two distinct points",
    ),
    ("duplicate camera", CAMERA + CAMERA, "cameras", "ids must be unique"),
    ("not TOML", "[store\nname = 1\n", "not valid TOML", "line 1"),
]


@pytest.mark.parametrize(
    ("what", "text", "field", "fix"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS]
)
def test_invalid_config_names_file_field_and_fix(
    tmp_path: Path, what: str, text: str, field: str, fix: str
) -> None:
    path = tmp_path / "store.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message and field in message and fix in message, message


@pytest.mark.parametrize("command", ["pipeline"])
def test_commands_refuse_a_bad_config_cleanly(tmp_path: Path, command: str) -> None:
    path = tmp_path / "store.toml"
    path.write_text(CAMERA + '[[cameras.zones]]\nname = "q"\npolygon = [[0,0],[5,5],[10,10]]\n')
    db = tmp_path / "x.duckdb"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "storelens.app.cli",
            command,
            "--config",
            str(path),
            "--db",
            str(db),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={"STORELENS_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert f"error: {path}: invalid config" in done.stderr
    assert "cameras[0].zones[0].polygon" in done.stderr
    assert not db.exists()


def test_up_with_a_bad_config_serves_the_dashboard_in_safe_mode(tmp_path: Path) -> None:
    import signal
    import socket
    import time
    import urllib.request

    path = tmp_path / "store.toml"
    path.write_text(CAMERA + '[[cameras.zones]]\nname = "q"\npolygon = [[0,0],[5,5],[10,10]]\n')
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    home = tmp_path / "home"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storelens.app.cli",
            "up",
            "--config",
            str(path),
            "--no-seed",
            "--db",
            str(tmp_path / "x.duckdb"),
            "--port",
            str(port),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"STORELENS_HOME": str(home), "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline, healthy = time.monotonic() + 90, False
        while time.monotonic() < deadline and not healthy:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/_stcore/health", timeout=2
                ) as r:
                    healthy = r.read() == b"ok"
            except OSError:
                time.sleep(0.5)
        assert healthy, "the dashboard must still start (in safe mode)"
        assert not discovery_path(tmp_path / "x.duckdb").exists(), (
            "no pipeline runs on an invalid config"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stderr
    assert f"error: {path}: invalid config" in stderr and "safe mode" in stderr
    assert "cameras[0].zones[0].polygon" in stderr


def test_unreachable_camera_is_reported_not_fatal(pipeline_run) -> None:
    status = json.loads(pipeline_run.status_json)["cam-secret"]
    assert status["state"] in ("reconnecting", "offline")
    assert "admin:***@127.0.0.1" in status["last_error"]
    assert "check the address" in status["last_error"]
    assert pipeline_run.returncode == 0


# --------------------------------------------------------------------------- imports


@pytest.fixture
def store_writer(tmp_path: Path):
    writer = Writer(tmp_path / "imports.duckdb")
    writer.execute_admin(
        lambda con: upsert_store(con, "s1", "Store 1", "north", "Europe/Berlin", 8, 20, 500.0)
    )
    yield writer
    writer.close()


def _counts(writer: Writer) -> tuple[int, int, int]:
    cur = writer.cursor()
    return tuple(
        cur.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in ("transactions", "shifts", "import_ledger")
    )


SALES_HEADER = "ts,store_id,amount,register\n"
GOOD_SALE = "2026-03-02T09:15:00+01:00,s1,12.50,1\n"
BAD_SALES = [
    ("unknown store", "2026-03-02T09:15:00Z,s9,5.00,1\n", "not a known store"),
    ("negative amount", "2026-03-02T09:16:00Z,s1,-5,1\n", "must be > 0"),
    ("zero amount", "2026-03-02T09:16:00Z,s1,0,1\n", "must be > 0"),
    ("not a number", "2026-03-02T09:17:00Z,s1,ten,1\n", "is not a number"),
    ("infinite", "2026-03-02T09:17:00Z,s1,inf,1\n", "not a finite number"),
    ("bad timestamp", "yesterday,s1,5.00,1\n", "is not ISO 8601"),
    ("empty timestamp", ",s1,5.00,1\n", "empty timestamp"),
    ("future", "2099-01-01T00:00:00Z,s1,5.00,1\n", "in the future"),
    ("empty store", "2026-03-02T09:18:00Z,,5.00,1\n", "store_id is empty"),
]


@pytest.mark.parametrize(("what", "row", "reason"), BAD_SALES, ids=[b[0] for b in BAD_SALES])
def test_malformed_sales_csv_rejected_whole_with_the_row_and_reason(
    store_writer: Writer, what: str, row: str, reason: str
) -> None:
    before = _counts(store_writer)
    content = (SALES_HEADER + GOOD_SALE + row + GOOD_SALE.replace("09:15", "09:20")).encode()
    with pytest.raises(ImportRejected) as info:
        import_content(store_writer, "sales", "sales.csv", content)
    report = info.value.report
    assert [(e.line, reason in e.reason) for e in report.errors] == [(3, True)], report.errors
    assert "nothing was imported" in str(info.value)
    assert _counts(store_writer) == before


def test_malformed_shifts_parquet_rejected_with_row_numbers(store_writer: Writer) -> None:
    frame = pl.DataFrame(
        {
            "store_id": ["s1", "s1", "s1", "s1"],
            "staff_role": ["cashier", "", "cashier", "cashier"],
            "start_ts": ["2026-03-02T08:00:00Z"] * 4,
            "end_ts": [
                "2026-03-02T16:00:00Z",
                "2026-03-02T16:00:00Z",
                "2026-03-02T07:00:00Z",
                "2026-03-04T08:00:00Z",
            ],
            "hourly_cost": ["20", "20", "20", "20"],
        }
    )
    buf = io.BytesIO()
    frame.write_parquet(buf)
    before = _counts(store_writer)
    with pytest.raises(ImportRejected) as info:
        import_content(store_writer, "shifts", "shifts.parquet", buf.getvalue())
    reasons = {e.line: e.reason for e in info.value.report.errors}
    assert set(reasons) == {2, 3, 4}
    assert "staff_role is empty" in reasons[2]
    assert "not after start_ts" in reasons[3]
    assert "longer than" in reasons[4]
    assert _counts(store_writer) == before


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("sales.csv", b"when,where,how much\n1,2,3\n", "columns: missing"),
        (
            "sales.csv",
            SALES_HEADER.replace("\n", ",extra\n").encode() + b"2026-03-02T09:00:00Z,s1,1,1,x\n",
            "unexpected ['extra']",
        ),
        ("sales.parquet", b"PAR1 this is not parquet", "cannot read the file"),
    ],
)
def test_a_wrong_file_is_rejected_whole(
    store_writer: Writer, name: str, content: bytes, reason: str
) -> None:
    before = _counts(store_writer)
    with pytest.raises(ImportRejected) as info:
        import_content(store_writer, "sales", name, content)
    text = str(info.value) + " ".join(
        e.reason for e in getattr(info.value.report, "errors", []) or []
    )
    assert reason in text, text
    assert _counts(store_writer) == before
