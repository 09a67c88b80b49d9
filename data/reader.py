"""Read path that never fails on a lock.

DuckDB allows one read-write process *or* many read-only processes on a file, never both:
while the pipeline holds the file, another process cannot open it at all. Options weighed
(issue 4, item 3):

- **Parquet snapshots** exported by the writer: readers never touch the live file, but data
  is as old as the last export, and exporting 1 year x 50 stores of rollups every few
  seconds costs the writer far more than answering the handful of queries a dashboard sends.
- **DuckLake** catalog: would need a catalog database plus an extension download (offline
  here), and still one writer per catalog file.
- **A read API owned by the writer process** (chosen): the writer's own DuckDB instance
  answers named queries on a cursor per request thread. MVCC means reads never block the
  append thread and always see committed data, so freshness is the writer's commit latency
  (well under a second) and lock errors are impossible by construction: only one process
  ever opens the file. Measured by ``benchmarks/bench_data.py --sections rw --rw-seconds
  600`` (2 CPUs, load ~5): a writer process appending 4 cameras x 4 batches/s while two
  dashboard threads queried through ``open_reader``: 6,227 reads, 0 lock errors, 0 other
  errors, p50 143 ms / p95 501 ms, newest row seen at most 3.8 s after it was made; a
  plain read-only ``duckdb.connect`` of the same file failed 542 of 542 times meanwhile.
  KPI queries over the API on 1 year x 50 stores: 19-153 ms median each.

So there are three readers behind one :class:`Reader` protocol, all running the same
*named* queries of :mod:`data.queries` (no raw SQL crosses a process boundary):

- :class:`LocalReader` opens the file read-only on demand and closes it after a short
  idle time (no pipeline running: tests, a seeded demo without cameras). If the file turns out to be held by a
  writer that published its read API (``<db>.services.json``, see
  :mod:`storelens.kernel.discovery`), it transparently asks that API instead.
- :class:`ApiReader` talks to :func:`data.readapi.serve` over HTTP (Arrow IPC bodies).
- :class:`WriterReader` runs on a cursor of a :class:`~data.writer.Writer` in the same
  process.

:func:`open_reader` picks one: an explicit API URL (or env ``STORELENS_READ_API``), else a
live published API for the file, else :class:`LocalReader`.

This module holds the in-process readers and is the read path's public face: the protocol
is in :mod:`storelens.data.reader_base`, the API client in :mod:`storelens.data.reader_api`
and the short-TTL query cache in :mod:`storelens.data.query_cache`, all importable from here.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
from storelens.data.actions import ack_alert, live_view_batch
from storelens.data.apiauth import Caller
from storelens.data.db import open_database
from storelens.data.errors import DatabaseLocked
from storelens.data.queries import run_query, validate
from storelens.data.query_cache import (
    HISTORY_TTL_S,
    LIVE_QUERIES,
    LIVE_TTL_S,
    CachedReader,
    QueryCache,
    remembered,
    ttl_for,
    uncached,
)
from storelens.data.reader_api import ApiReader, published_api, published_secret
from storelens.data.reader_base import Reader, encode_params
from storelens.kernel.discovery import read_services
from storelens.kernel.paths import default_db_path

if TYPE_CHECKING:
    from storelens.data.writer import Writer

# Readers, the query cache and the API client are imported from here by every room.
__all__ = [
    "HISTORY_TTL_S",
    "LIVE_QUERIES",
    "LIVE_TTL_S",
    "ApiReader",
    "CachedReader",
    "LocalReader",
    "QueryCache",
    "Reader",
    "WriterReader",
    "as_caller",
    "encode_params",
    "open_reader",
    "published_api",
    "published_secret",
    "remembered",
    "ttl_for",
    "uncached",
]


class LocalReader:
    """Opens the database read-only on demand and closes it again after ``hold_s`` idle.

    Measured on 1 year x 50 stores: opening the file costs 40-100 ms, a KPI query 5-50 ms,
    and a KPI makes 1-3 queries, so re-opening per query would dominate. Holding the
    read-only connection for a couple of idle seconds keeps KPIs fast; the price is that a
    writer starting in that window waits for it (``open_database`` retries lock conflicts
    for a while). ``hold_s=0`` closes after every call.
    """

    def __init__(self, db_path: str | Path, hold_s: float = 2.0) -> None:
        self.db_path = Path(db_path)
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when the last cursor closes
        # DuckDB refuses a read-only open while this process has the file open writable
        # (and the reverse). Page scripts run in several threads (a new run starts while
        # the old one finishes), so a short write here (alert ack, live-view row) must not
        # overlap a read: writes hold this lock, and reads open only outside it.
        self._exclusive = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        self._last_used = 0.0
        self._timer: threading.Timer | None = None

    def _delegate(self, exc: DatabaseLocked) -> ApiReader:
        api = published_api(self.db_path)
        if api is None:
            raise exc
        return api

    @contextmanager
    def _cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._exclusive, self._lock:
            if self._con is None:
                self._con = open_database(self.db_path, read_only=True)
            self._users += 1
            cur = self._con.cursor()
        try:
            cur.execute("SET TimeZone = 'UTC'")
            yield cur
        finally:
            cur.close()
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    self._idle.notify_all()
                self._last_used = time.monotonic()
                if self._users == 0:
                    if self.hold_s <= 0:
                        self._close_locked()
                    elif self._timer is None:
                        self._schedule_close(self.hold_s)

    def _close_locked(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def _schedule_close(self, delay: float) -> None:
        # One pending timer at a time; it re-arms itself while the reader stays busy.
        self._timer = threading.Timer(delay, self._close_if_idle)
        self._timer.daemon = True
        self._timer.start()

    def _close_if_idle(self) -> None:
        with self._lock:
            self._timer = None
            idle = time.monotonic() - self._last_used
            if self._con is None:
                return
            if self._users == 0 and idle >= self.hold_s * 0.99:
                self._close_locked()
            else:
                self._schedule_close(max(0.05, self.hold_s - idle))

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        validate(name, params)  # bad names/params fail the same way on every reader
        try:
            with self._cursor() as cur:
                return run_query(cur, name, params)
        except DatabaseLocked as exc:
            return self._delegate(exc).query(name, params)

    @contextmanager
    def _writable(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short writable open, with no read of this reader in flight or starting."""
        with self._exclusive:
            with self._lock:
                while self._users:  # our own read-only handle would block the writable open
                    self._idle.wait()
                self._close_locked()
            con = open_database(self.db_path)
            try:
                yield con
            finally:
                con.close()

    def ack_alert(self, alert_id: int, user: str) -> bool:
        try:
            with self._writable() as con:
                return ack_alert(con, alert_id, user)
        except DatabaseLocked as exc:
            return self._delegate(exc).ack_alert(alert_id, user)

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        table, _ = live_view_batch(user_name, role, camera_id)
        try:
            with self._writable() as con:
                con.register("_row", table)
                con.execute("INSERT INTO live_view_log SELECT * FROM _row")
        except DatabaseLocked as exc:
            self._delegate(exc).log_live_view(user_name, role, camera_id)


class WriterReader:
    """Reads on a cursor of an in-process :class:`Writer`; writes go through its thread."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer

    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        validate(name, params)
        cur = self.writer.cursor()
        try:
            return run_query(cur, name, params)
        finally:
            cur.close()

    def ack_alert(self, alert_id: int, user: str) -> bool:
        return self.writer.execute_admin(lambda con: ack_alert(con, alert_id, user))

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        table, batch_id = live_view_batch(user_name, role, camera_id)
        self.writer.append("live_view_log", table, batch_id)


def open_reader(db_path: str | Path | None = None, api_url: str | None = None) -> Reader:
    """API URL given (or env STORELENS_READ_API) -> ApiReader; else a live published API for
    the file -> ApiReader; else LocalReader (which still falls back to the API on a lock)."""
    api_url = api_url or os.environ.get("STORELENS_READ_API")
    db_path = Path(db_path) if db_path else default_db_path()
    if api_url:
        # The URL the discovery file gives (the dashboard's case) follows that file across
        # pipeline restarts; another URL stays, and only the secret follows the file.
        published = read_services(db_path).get("read_api")
        return ApiReader(
            api_url,
            secret=published_secret(db_path),
            db_path=db_path,
            follow_url=str(published or "").rstrip("/") == api_url.rstrip("/"),
        )
    return published_api(db_path) or LocalReader(db_path)


def as_caller(reader: Reader, caller: Caller) -> Reader:
    """``reader`` acting for ``caller``: over the read API the server then enforces that
    caller's scope and role; in-process readers are returned as they are (the KPI layer's
    Scope applies there). A :class:`CachedReader` stays cached, its entries keyed by
    ``caller`` from then on."""
    if isinstance(reader, CachedReader):
        return CachedReader(as_caller(reader.inner, caller), reader.cache, caller)
    return reader.for_caller(caller) if isinstance(reader, ApiReader) else reader
