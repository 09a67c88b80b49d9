"""The shared kernel (issue 13 item 3): one default database, one error root, one discovery file.

The bug this guards: with ``STORELENS_HOME`` set, ``storelens up`` opened
``$STORELENS_HOME/storelens.duckdb`` while ``storelens kpi`` (and the data room) opened a
cwd-relative ``var/storelens.duckdb``, so the KPI command reported on a different file
than the one the pipeline was writing.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from storelens.app import cli, cli_data
from storelens.dashboard import services
from storelens.data import errors as data_errors
from storelens.data.demo import STORES
from storelens.data.readapi import serve
from storelens.data.reader import ApiReader, LocalReader, open_reader
from storelens.data.writer import Writer
from storelens.detectors import errors as detector_errors
from storelens.kernel import discovery
from storelens.kernel.errors import StoreLensError
from storelens.kernel.paths import default_db_path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """STORELENS_HOME set, no STORELENS_DB, and a working directory that is not the checkout."""
    home = tmp_path / "home"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("STORELENS_HOME", str(home))
    monkeypatch.delenv("STORELENS_DB", raising=False)
    monkeypatch.delenv("STORELENS_READ_API", raising=False)
    monkeypatch.chdir(elsewhere)
    return home


def test_storelens_home_gives_every_command_the_same_database(home: Path) -> None:
    expected = home / "storelens.duckdb"
    assert default_db_path() == expected
    assert cli._db(None) == expected  # what `storelens up` / `pipeline` hand the launcher
    assert cli_data._db(None) == expected  # what `storelens kpi`, `demo seed`, imports open
    reader = open_reader()  # the data room's own fallback
    assert isinstance(reader, LocalReader) and reader.db_path == expected


def test_storelens_db_still_wins_over_home(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = home.parent / "other.duckdb"
    monkeypatch.setenv("STORELENS_DB", str(other))
    assert default_db_path() == cli._db(None) == cli_data._db(None) == other
    assert cli_data._db(home / "given.duckdb") == home / "given.duckdb"


def _storelens(args: list[str], cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STORELENS_HOME": str(home)}
    env.pop("STORELENS_DB", None)
    env.pop("STORELENS_READ_API", None)
    return subprocess.run(
        [sys.executable, "-m", "storelens.app.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_kpi_cli_reads_the_database_storelens_up_opens(home: Path) -> None:
    up_db = cli._db(None)  # the file `storelens up` would start the pipeline on
    seeded = _storelens(
        ["demo", "seed", "--db", str(up_db), "--days", "3", "--stores", "1"], Path.cwd(), home
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    assert up_db.is_file()
    first, last = date.today() - timedelta(days=3), date.today() - timedelta(days=1)
    period = ["--from", first.isoformat(), "--to", last.isoformat()]
    kpi = _storelens(
        ["kpi", "--store", STORES[0][0], *period, "--json"],
        Path.cwd(),  # not the checkout: a cwd-relative var/ would be empty here
        home,
    )
    assert kpi.returncode == 0, kpi.stderr[-2000:]
    assert json.loads(kpi.stdout)["visitors"] > 0
    assert not (Path.cwd() / "var").exists()


def test_every_deliberate_error_derives_from_the_kernel_root() -> None:
    for module in (data_errors, detector_errors):
        classes = [
            v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Exception)
        ]
        assert classes
        for cls in classes:
            assert issubclass(cls, StoreLensError), cls
    assert issubclass(data_errors.DatabaseLocked, StoreLensError)
    assert detector_errors.StoreLensError is StoreLensError


def test_one_discovery_file_serves_reader_cli_and_dashboard(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = home.parent / "live.duckdb"
    monkeypatch.setenv("STORELENS_DB", str(db))
    server = serve(Writer(db), port=0, publish=True)
    try:
        path = discovery.discovery_path(db)
        assert path == db.with_name("live.duckdb.services.json")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it carries the API secret
        info = json.loads(path.read_text())
        assert info["read_api"] == server.url and info["secret"] == server.secret.hex()
        assert info["pid"] == os.getpid() and info["db"] == str(db)
        # The pipeline adds its tiles to the same record; the API's fields stay.
        discovery.publish(db, {"tiles": "http://127.0.0.1:9", "store_id": "s1"})
        published = services.read_services()  # what every dashboard page reads
        assert published["read_api"] == server.url and published["tiles"] == "http://127.0.0.1:9"
        reader = open_reader(db)  # the CLI and data room find the API by the same file
        assert isinstance(reader, ApiReader) and reader.health()["ok"] is True
        # Nothing else is written: no var/services.json, no <db>.readapi.json.
        assert not (home / "services.json").exists()
        assert sorted(p.name for p in db.parent.glob("*.json")) == [path.name]
    finally:
        server.stop()
    assert not path.exists()
    assert services.read_services() == {}


def test_a_record_left_by_another_process_is_replaced_whole(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    discovery.write_private_json(
        discovery.discovery_path(db), {"pid": -1, "tiles": "http://dead:1", "secret": "00"}
    )
    discovery.unpublish(db, pid=os.getpid())  # not ours: a restarted pipeline's file stays
    assert discovery.read_services(db)["pid"] == -1
    discovery.publish(db, {"read_api": "http://127.0.0.1:1"})
    assert discovery.read_services(db) == {
        "read_api": "http://127.0.0.1:1",
        "pid": os.getpid(),
        "db": str(db),
    }
    discovery.unpublish(db, pid=os.getpid())
    assert discovery.read_services(db) == {}


def test_the_kernel_imports_no_room() -> None:
    """Every room may import the kernel, so the kernel may import none of them."""
    import ast

    kernel = Path(discovery.__file__).parent
    rooms = ("storelens.detectors", "storelens.data", "storelens.dashboard", "storelens.jobs")
    for path in kernel.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(rooms), f"{path.name}: {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith(rooms) for a in node.names), path.name
