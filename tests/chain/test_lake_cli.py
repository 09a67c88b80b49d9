"""`storelens lake publish|status` and `storelens kpi --lake` as a user runs them: real
subprocesses of the installed entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from storelens.app.cli import app
from typer.testing import CliRunner

from tests.chain.chainlib import END, START

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORELENS_LAKE")}
    return subprocess.run([STORELENS, *args], capture_output=True, text=True, timeout=600, env=env)


def test_publish_twice_status_and_kpi_from_the_lake(chain_db: Path, tmp_path: Path):
    lake = str(tmp_path / "lake")
    first = run("lake", "publish", "--db", str(chain_db), "--lake", lake, "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert summary["written"] > 0 and len(summary["stores"]) == 5
    second = run("lake", "publish", "--db", str(chain_db), "--lake", lake, "--json")
    assert json.loads(second.stdout)["written"] == 0  # nothing new, nothing changed

    status = run("lake", "status", "--lake", lake, "--json")
    assert status.returncode == 0, status.stderr
    rows = {r["store_id"]: r for r in json.loads(status.stdout)}
    assert sorted(rows) == ["demo", "s01", "s02", "s03", "s04"]
    assert rows["s01"]["newest_local_hour"].startswith(str(END))
    assert rows["s01"]["missing_hours"] == []
    text = CliRunner().invoke(app, ["lake", "status", "--lake", lake])  # in-process: faster
    assert text.exit_code == 0, text.output
    # Long after END every store is late by its opening hours; each time has its zone.
    assert f"published up to {END:%a} {END.day} {END:%b} " in text.output
    assert "0 opening hour(s) never published in between" in text.output

    period = ("--store", "s02", "--from", str(START), "--to", str(END), "--json")
    from_lake = run("kpi", "--lake", lake, *period)
    from_db = run("kpi", "--db", str(chain_db), *period)
    assert from_lake.returncode == 0 and from_db.returncode == 0, from_lake.stderr
    a, b = json.loads(from_lake.stdout), json.loads(from_db.stdout)
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float):
            assert a[key] == pytest.approx(b[key], rel=1e-9), key
        else:
            assert a[key] == b[key], key


def test_bad_input_exits_2_naming_the_option_without_a_trace():
    out = run("lake", "status", "--lake", "ftp://x/y")
    assert out.returncode == 2
    assert "scheme 'ftp' is not supported; use a folder" in out.stderr
    assert "Traceback" not in out.stderr
