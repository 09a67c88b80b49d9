"""Runtime files are private (issue 18, item 6): a second local account cannot copy the
database past the authenticated read API, nor read camera credentials in store.toml.

Real files, real DuckDB writes and the real ``storelens`` command in a subprocess; the
"second account" is a real one (uid 65534, nobody) where the tests run as root.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from storelens.dashboard.settings import save_store_config
from storelens.data.writer import Writer
from storelens.kernel.config import StoreLensConfig
from storelens.kernel.paths import UnsafePermissions, check_private, runtime_files

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))
NOBODY = 65534


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Start from the usual 022 (files 0644), as a shell would, and put back what was."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def storelens(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STORELENS, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **env},
        preexec_fn=lambda: os.umask(0o022),  # a user's shell: files 0644 unless we say so
    )


def test_a_real_write_leaves_home_0700_and_database_and_config_0600(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)  # as an older StoreLens (or a user's mkdir) left it
    env = {"STORELENS_HOME": str(home), "STORELENS_DB": ""}
    out = storelens("demo", "seed", "--days", "1", "--stores", "1", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    db = home / "storelens.duckdb"
    assert mode(home) == 0o700
    assert mode(db) == 0o600
    assert not {p.name: mode(p) for p in home.rglob("*") if mode(p) & 0o077}


def test_the_wal_a_live_writer_creates_is_0600(tmp_path: Path, loose_umask: None) -> None:
    db = tmp_path / "live.duckdb"
    writer = Writer(db)
    try:
        writer.execute_admin(lambda con: con.execute("CREATE TABLE probe AS SELECT 1 AS x"))
        wal = db.with_name(db.name + ".wal")
        assert wal.exists(), "DuckDB keeps a WAL while the writer is open"
        assert mode(db) == 0o600 and mode(wal) == 0o600
    finally:
        writer.close()


def test_setup_saves_store_toml_0600(tmp_path: Path, loose_umask: None) -> None:
    path = save_store_config(StoreLensConfig(), tmp_path / "store.toml")
    assert mode(path) == 0o600


def test_files_left_too_open_are_tightened_at_start(tmp_path: Path, loose_umask: None) -> None:
    db = tmp_path / "old.duckdb"
    duckdb.connect(str(db)).close()  # an old database, made 0644 under umask 022
    assert mode(db) == 0o644
    Writer(db).close()  # the writer's open tightens it
    assert mode(db) == 0o600

    # What `storelens up` / `storelens pipeline` check at start, before anything else.
    home = tmp_path / "home"
    home.mkdir()
    live = home / "storelens.duckdb"
    Writer(live).close()
    loose = [home, live, home / "store.toml", home / "session.secret"]
    for path in loose[2:]:
        path.write_text("x")
    for path in loose:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    os.environ["STORELENS_HOME"] = str(home)
    try:
        files = runtime_files(live)  # resolving the home tightens it already
        assert set(loose) <= set(files)
        assert set(check_private(files)) == set(loose[1:])
    finally:
        del os.environ["STORELENS_HOME"]
    assert {p.name: mode(p) for p in loose} == {
        "home": 0o700,
        "storelens.duckdb": 0o600,
        "store.toml": 0o600,
        "session.secret": 0o600,
    }


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a second account's file")
def test_a_too_open_file_of_another_account_is_refused_with_the_fix(tmp_path: Path) -> None:
    db = tmp_path / "theirs.duckdb"
    duckdb.connect(str(db)).close()
    os.chmod(db, 0o644)
    os.chown(db, NOBODY, NOBODY)
    with pytest.raises(UnsafePermissions, match=r"theirs\.duckdb.*chmod 600"):
        check_private([db])
    out = storelens("pipeline", "--db", str(db), env={"STORELENS_HOME": str(tmp_path / "h")})
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert f"chmod 600 {db}" in out.stderr and "other accounts" in out.stderr
    assert mode(db) == 0o644  # refused, not changed behind its owner's back


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as a second account")
def test_a_second_account_cannot_read_the_database() -> None:
    # A folder the other account can enter (pytest's own tmp folders are 0700), so only the
    # file's mode stands between it and the data; a 0644 control file beside it is readable.
    folder = Path(tempfile.mkdtemp(prefix="storelens-perm-"))
    try:
        os.chmod(folder, 0o755)
        db = folder / "store.duckdb"
        Writer(db).close()
        control = folder / "control.txt"
        control.write_text("readable")
        os.chmod(control, 0o644)

        def as_nobody(path: Path) -> subprocess.CompletedProcess[str]:
            def drop() -> None:
                os.setgid(NOBODY)
                os.setuid(NOBODY)

            return subprocess.run(
                ["head", "-c", "16", str(path)],
                capture_output=True,
                text=True,
                timeout=60,
                preexec_fn=drop,
            )

        assert as_nobody(control).returncode == 0  # the test can tell the difference
        out = as_nobody(db)
        assert out.returncode != 0 and "Permission denied" in out.stderr
    finally:
        shutil.rmtree(folder)
