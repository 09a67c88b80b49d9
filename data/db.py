"""Opening the DuckDB file: settings, migrations, lock and corruption handling.

``open_database(path)`` is the one way the data room opens a file. Writable opens apply
the versioned migrations in ``data/sql/NNN_*.sql`` (each in its own transaction, recorded
in ``schema_version``). Read-only opens never migrate; they refuse a file whose schema is
older than this code with a message saying how to upgrade it.

DuckDB allows one read-write process or many read-only ones, never both, so a lock
conflict is translated into :class:`DatabaseLocked`, naming the fix (read through the
writer's read API). A database whose write-ahead log cannot be replayed is moved aside
(``<name>.corrupt-<UTC timestamp>`` plus its ``.wal``) with a loud error, and a fresh file
starts: the damaged data is kept for inspection, never silently dropped.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import duckdb
from storelens.data.errors import DatabaseLocked, DatabaseUnavailable
from storelens.kernel.paths import check_private, private_umask

log = logging.getLogger(__name__)

_MIGRATION_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped in data/sql, in order."""
    found = []
    for entry in resources.files("storelens.data").joinpath("sql").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise DatabaseUnavailable(f"data/sql has two migrations with the same number: {versions}")
    return found


def latest_version() -> int:
    return migrations()[-1][0]


def _is_lock_error(exc: BaseException) -> bool:
    # Another process holds the file ("Could not set lock"), or this process already has it
    # open with another configuration (read-write vs read-only): both mean "ask the writer".
    text = str(exc).lower()
    return "lock" in text or "different configuration" in text


def _translate_lock(path: Path, exc: BaseException) -> DatabaseLocked:
    if "different configuration" in str(exc).lower():
        return DatabaseLocked(
            f"{path} is already open in this process in the other mode (a Writer holds it "
            "read-write, or a LocalReader read-only). Read through the writer "
            "(data.reader.WriterReader / Writer.cursor()), or close the LocalReader first."
        )
    return DatabaseLocked(
        f"{path} is held read-write by another process ({exc}). Read it through that "
        "process's read API (data.reader.ApiReader / STORELENS_READ_API), or stop the "
        "pipeline before opening the file directly."
    )


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    # Every timestamp crosses the boundary as UTC, whatever the host's zone is.
    con.execute("SET TimeZone = 'UTC'")


def _move_aside(path: Path, exc: BaseException) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    moved = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(moved)
    wal = path.with_name(path.name + ".wal")
    if wal.exists():
        wal.rename(moved.with_name(moved.name + ".wal"))
    log.error(
        "DATABASE MOVED ASIDE: %s could not be opened (%s). The damaged file is kept as %s "
        "for inspection (copy it without its .wal to read everything up to the last "
        "checkpoint); a fresh database starts now. Nothing was deleted.",
        path,
        exc,
        moved,
    )
    return moved


def _connect_writable(path: Path, lock_wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_wait_s
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as exc:
            # Readers open the file briefly (LocalReader); wait them out, not a real writer.
            transient = _is_lock_error(exc) and "different configuration" not in str(exc).lower()
            if transient and time.monotonic() < deadline:
                time.sleep(0.1)
                continue
            return _writable_failed(path, exc)


def _writable_failed(path: Path, exc: duckdb.Error) -> duckdb.DuckDBPyConnection:
    if _is_lock_error(exc):
        raise _translate_lock(path, exc) from exc
    wal = path.with_name(path.name + ".wal")
    if path.exists() and wal.exists():
        # The usual aftermath of a torn write: the WAL cannot be replayed.
        _move_aside(path, exc)
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as exc2:
            raise DatabaseUnavailable(f"cannot create a fresh {path}: {exc2}") from exc2
    raise DatabaseUnavailable(
        f"cannot open {path}: {exc}. If the file is damaged, move it aside and start "
        "again (storelens demo seed re-creates the demo history)."
    ) from exc


def apply_migrations(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply every migration newer than the file's schema version; returns those applied."""
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_ts TIMESTAMPTZ NOT NULL)"
    )
    done = {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    applied = []
    for version, name, sql in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute("INSERT INTO schema_version VALUES (?, ?, now())", [version, name])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise DatabaseUnavailable(f"migration {name} failed: {exc}") from exc
        applied.append(version)
        log.info("applied migration %s", name)
    return applied


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    try:
        row = con.execute("SELECT max(version) FROM schema_version").fetchall()[0]
    except duckdb.CatalogException:
        return 0
    return int(row[0] or 0)


def open_database(
    path: str | Path, read_only: bool = False, lock_wait_s: float = 5.0
) -> duckdb.DuckDBPyConnection:
    """Open (and, when writable, create and migrate) the StoreLens database at ``path``.

    A writable open waits up to ``lock_wait_s`` for read-only holders to let go before it
    raises :class:`DatabaseLocked`.
    """
    path = Path(path)
    if read_only:
        if not path.exists():
            raise DatabaseUnavailable(
                f"{path} does not exist. Create it with `storelens demo seed --db {path}` "
                "or start the pipeline."
            )
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as exc:
            if _is_lock_error(exc):
                raise _translate_lock(path, exc) from exc
            raise DatabaseUnavailable(f"cannot open {path} read-only: {exc}") from exc
        _configure(con)
        have, want = schema_version(con), latest_version()
        if have < want:
            con.close()
            raise DatabaseUnavailable(
                f"{path} has schema version {have}, this code needs {want}. Open it once "
                "writable (start the pipeline or run `storelens demo seed`) to migrate it."
            )
        return con
    # The file, its WAL (DuckDB creates it with the process umask, at any later write) and
    # a missing folder are private from their first byte; an older file made before that
    # is tightened here (kernel/paths.py).
    private_umask()
    path.parent.mkdir(parents=True, exist_ok=True)
    check_private([path, path.with_name(path.name + ".wal")])
    con = _connect_writable(path, lock_wait_s)
    _configure(con)
    apply_migrations(con)
    return con
