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
"""

from __future__ import annotations

import dataclasses
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import duckdb
import polars as pl
import pyarrow as pa
from storelens.data import errors
from storelens.data.actions import ack_alert, live_view_batch
from storelens.data.apiauth import SYSTEM, Caller, sign_request
from storelens.data.db import open_database
from storelens.data.errors import DatabaseLocked, ReadApiError
from storelens.data.queries import run_query, validate
from storelens.kernel.discovery import discovery_path, read_services
from storelens.kernel.paths import default_db_path

if TYPE_CHECKING:
    from storelens.data.writer import Writer


@runtime_checkable
class Reader(Protocol):
    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a registered query by name and return its rows."""

    def ack_alert(self, alert_id: int, user: str) -> bool:
        """Acknowledge an alert (through the one writer)."""

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        """Record that ``user_name`` opened the live view of ``camera_id``."""


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} as a query parameter")


def encode_params(params: dict[str, Any] | None) -> dict[str, Any]:
    return json.loads(json.dumps(params or {}, default=_json_default))


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


# Error types the API may name in its JSON error body, mapped back to domain errors.
_API_ERRORS: dict[str, type[errors.DataError]] = {
    cls.__name__: cls
    for cls in (
        errors.UnknownQuery,
        errors.InvalidParams,
        errors.AccessDenied,
        errors.Unauthenticated,
        errors.DatabaseUnavailable,
        errors.WriterClosed,
        errors.WriterOverloaded,
        errors.ImportRejected,
    )
}


class _Endpoint:
    """Where the read API listens and its per-start secret, shared by an :class:`ApiReader`
    and every copy :meth:`ApiReader.for_caller` makes.

    With a ``db_path`` it follows that database's discovery file: a restarted pipeline
    draws a new secret (and, on a free port, a new URL) and replaces the file, so each
    request first compares the file's identity (inode, mtime, size: one ``stat``) and re-reads
    it when that changed; :meth:`reload` also runs when a request is refused or not
    answered (issue 18, item 1). Without one, URL and secret are fixed.
    """

    def __init__(
        self, url: str, secret: bytes | None, db_path: Path | None, follow_url: bool
    ) -> None:
        self.url, self.secret = url.rstrip("/"), secret
        self.db_path, self.follow_url = db_path, follow_url
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()

    def _file_stamp(self) -> tuple[int, int, int] | None:
        if self.db_path is None:
            return None
        try:
            st = discovery_path(self.db_path).stat()
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self) -> tuple[str, bytes | None]:
        """URL and secret, re-read first if the discovery file was replaced."""
        if self.db_path is not None and self._file_stamp() != self._stamp:
            self.reload()
        return self.url, self.secret

    def reload(self) -> bool:
        """Re-read the discovery file; True when the URL or the secret changed."""
        if self.db_path is None:
            return False
        with self._lock:
            stamp = self._file_stamp()
            services = read_services(self.db_path)
            url = str(services.get("read_api") or "").rstrip("/")
            secret = published_secret(self.db_path)
            if not url or secret is None:
                return False  # nothing published (the pipeline is down): keep what we had
            self._stamp = stamp
            changed = secret != self.secret or (self.follow_url and url != self.url)
            self.secret = secret
            if self.follow_url:
                self.url = url
            return changed


class ApiReader:
    """Client of the writer process's read API (:func:`data.readapi.serve`).

    Every request is signed for ``caller`` with the API's per-start ``secret`` (read from the
    0600 discovery file, see :func:`published_secret`); the server limits what it answers to
    that caller's stores and role. :meth:`for_caller` gives a copy acting for another user.

    Given ``db_path``, the reader follows that database's discovery file (the secret, and
    the URL unless ``follow_url`` is False): after a pipeline restart it signs with the new
    secret, and a request refused as unauthenticated or not answered is retried once when
    the file says something new, so a restarted pipeline is read again at once instead of
    every page showing "credential signature does not match".
    """

    def __init__(
        self,
        base_url: str,
        timeout_s: float = 10.0,
        secret: bytes | None = None,
        caller: Caller = SYSTEM,
        db_path: str | Path | None = None,
        follow_url: bool = True,
        *,
        _endpoint: _Endpoint | None = None,
    ) -> None:
        self._endpoint = _endpoint or _Endpoint(
            base_url, secret, Path(db_path) if db_path else None, follow_url
        )
        self.timeout_s = timeout_s
        self.caller = caller

    @property
    def base_url(self) -> str:
        return self._endpoint.current()[0]

    @property
    def secret(self) -> bytes | None:
        return self._endpoint.current()[1]

    def for_caller(self, caller: Caller) -> ApiReader:
        return ApiReader("", self.timeout_s, caller=caller, _endpoint=self._endpoint)

    def _headers(
        self,
        secret: bytes | None,
        method: str,
        target: str,
        body: bytes = b"",
        content_type: str | None = None,
    ) -> dict[str, str]:
        """Headers of one request; the credential signs its method, target and body."""
        headers = {"Content-Type": content_type} if content_type else {}
        if secret:
            headers["Authorization"] = sign_request(secret, self.caller, method, target, body)
        return headers

    def _post(self, path: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        try:
            return self._post_once(path, body, content_type)
        except (errors.Unauthenticated, ReadApiError):
            # A restarted pipeline: new secret, maybe a new port. Once, and only when the
            # discovery file says something new (a wrong secret for good stays an error).
            # Every write the API takes is idempotent or harmless twice (acks, imports by
            # content hash, a live-view audit row).
            if not self._endpoint.reload():
                raise
            return self._post_once(path, body, content_type)

    def _post_once(self, path: str, body: bytes, content_type: str) -> tuple[bytes, str]:
        base_url, secret = self._endpoint.current()
        request = urllib.request.Request(
            base_url + path,
            data=body,
            method="POST",
            headers=self._headers(secret, "POST", path, body, content_type),
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                info = json.loads(payload)
            except ValueError:
                info = {"error": payload.decode("utf-8", "replace"), "type": ""}
            cls = _API_ERRORS.get(info.get("type", ""), ReadApiError)
            err = cls(f"read API {path}: {info.get('error')}")
            if isinstance(err, errors.ImportRejected):
                err.report = info.get("report")
            raise err from exc
        except (urllib.error.URLError, OSError) as exc:
            raise ReadApiError(
                f"read API at {base_url} did not answer ({exc}); is the pipeline running?"
            ) from exc

    def _post_json(self, path: str, payload: dict[str, Any]) -> Any:
        body, _ = self._post(path, json.dumps(payload).encode(), "application/json")
        return json.loads(body)

    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        validate(name, params)
        body, _ = self._post(
            "/query",
            json.dumps({"name": name, "params": encode_params(params)}).encode(),
            "application/json",
        )
        table = pa.ipc.open_stream(body).read_all()
        return pl.from_arrow(table)  # type: ignore[return-value]

    def ack_alert(self, alert_id: int, user: str) -> bool:
        return bool(
            self._post_json("/alerts/ack", {"alert_id": alert_id, "user": user})["acknowledged"]
        )

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        self._post_json(
            "/live_view", {"user_name": user_name, "role": role, "camera_id": camera_id}
        )

    def import_file(
        self, kind: str, file_name: str, content: bytes, force: bool = False
    ) -> dict[str, Any]:
        """Send an import file to the writer process; returns the ImportReport as a dict
        (``force``: write rows flagged implausible, see data/plausibility.py)."""
        body, _ = self._post(
            f"/import/{kind}?name={urllib.request.quote(file_name)}{'&force=1' if force else ''}",
            content,
            "application/octet-stream",
        )
        return json.loads(body)

    def health(self) -> dict[str, Any]:
        base_url, secret = self._endpoint.current()
        request = urllib.request.Request(
            base_url + "/health", headers=self._headers(secret, "GET", "/health")
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ReadApiError(f"read API at {base_url} is not healthy: {exc}") from exc


def published_secret(db_path: str | Path) -> bytes | None:
    """The read API's per-start secret for ``db_path`` (None if not published or not
    readable by this account: then the API answers 401)."""
    try:
        return bytes.fromhex(str(read_services(db_path).get("secret", ""))) or None
    except ValueError:
        return None


def published_api(db_path: str | Path) -> ApiReader | None:
    """The live read API published for ``db_path``, if its process answers."""
    url = read_services(db_path).get("read_api")
    if not url:
        return None
    api = ApiReader(str(url), timeout_s=10.0, secret=published_secret(db_path), db_path=db_path)
    try:
        api.health()
    except ReadApiError:
        return None
    return api


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


# --------------------------------------------------------------------------- query cache

# Queries that answer "what is happening now" (live page: people per minute, alert feed,
# camera counts): their rows may be at most a couple of seconds old.
LIVE_QUERIES = frozenset({"latest_counts", "people_per_minute", "alerts"})
LIVE_TTL_S = 2.0
# Everything else reads rollups of whole hours and days; a new session opening a page
# within this time of another reuses its rows instead of running the same SQL again.
HISTORY_TTL_S = 30.0


def ttl_for(name: str) -> float:
    """How long the rows of query ``name`` may be served from the cache."""
    return LIVE_TTL_S if name in LIVE_QUERIES else HISTORY_TTL_S


class QueryCache:
    """Query results for a short time, keyed by (scope, query name, parameters).

    The scope is part of every key, so rows fetched for one user's access are never
    handed to another scope, even where the parameters match (over the read API the
    server filters by the caller, not by the parameters). ``clock`` is injectable so
    tests can move time instead of sleeping. Thread-safe; a miss runs the query outside
    the lock, so a slow query never blocks hits on other keys. Bounded by entries and by
    bytes (a year of hourly rows for 50 stores is tens of MB): past either bound, expired
    entries go first, then the oldest.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 256,
        max_bytes: int = 128 * 2**20,
    ) -> None:
        self.clock, self.max_entries, self.max_bytes = clock, max_entries, max_bytes
        self._lock = threading.Lock()
        self._rows: dict[Hashable, tuple[float, pl.DataFrame]] = {}
        self._bytes = 0
        self.hits = self.misses = 0

    @staticmethod
    def key(scope: Hashable, name: str, params: dict[str, Any] | None) -> Hashable:
        return (scope, name, json.dumps(encode_params(params), sort_keys=True))

    def get_or_run(
        self, key: Hashable, ttl_s: float, run: Callable[[], pl.DataFrame]
    ) -> pl.DataFrame:
        """The rows cached under ``key`` if younger than ``ttl_s``, else ``run()``'s."""
        with self._lock:
            entry = self._rows.get(key)
            if entry is not None and self.clock() < entry[0]:
                self.hits += 1
                return entry[1].clone()  # callers may add columns in place: keep ours intact
            self.misses += 1
        rows = run()  # errors are not cached: the next call asks again
        size = rows.estimated_size()
        if size <= self.max_bytes:
            with self._lock:
                self._drop_locked(key)
                self._evict_locked(room_for=size)
                self._rows[key] = (self.clock() + ttl_s, rows)
                self._bytes += size
        return rows.clone()

    def _drop_locked(self, key: Hashable) -> None:
        entry = self._rows.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1].estimated_size()

    def _evict_locked(self, room_for: int) -> None:
        def full() -> bool:
            return len(self._rows) >= self.max_entries or self._bytes + room_for > self.max_bytes

        if not full():
            return
        now = self.clock()
        for key in [k for k, (expires, _) in self._rows.items() if expires <= now]:
            self._drop_locked(key)
        while self._rows and full():  # all fresh: drop the oldest insert
            self._drop_locked(next(iter(self._rows)))

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._bytes = 0


class CachedReader:
    """A :class:`Reader` that answers repeated queries from a shared :class:`QueryCache`
    (TTL per query: :func:`ttl_for`) for one ``scope``; writes go through and empty the
    cache, so an acknowledged alert disappears at once."""

    def __init__(self, inner: Reader, cache: QueryCache, scope: Hashable = SYSTEM) -> None:
        self.inner, self.cache, self.scope = inner, cache, scope

    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        validate(name, params)  # a bad call fails here, never from (or into) the cache
        key = QueryCache.key(self.scope, name, params)
        return self.cache.get_or_run(key, ttl_for(name), lambda: self.inner.query(name, params))

    def ack_alert(self, alert_id: int, user: str) -> bool:
        try:
            return self.inner.ack_alert(alert_id, user)
        finally:
            self.cache.clear()

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        self.inner.log_live_view(user_name, role, camera_id)

    def import_file(
        self, kind: str, file_name: str, content: bytes, force: bool = False
    ) -> dict[str, Any]:
        """:meth:`ApiReader.import_file`, then the imported rows show at once."""
        try:
            return self.inner.import_file(kind, file_name, content, force)  # type: ignore[attr-defined]
        finally:
            self.cache.clear()

    def close(self) -> None:
        """Close the wrapped reader's handle (Setup, before a local import) and forget
        every cached row: what comes next may change the data."""
        self.cache.clear()
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()

    def __getattr__(self, name: str) -> Any:
        # db_path, health, for_caller ...: whatever the wrapped reader offers.
        return getattr(self.inner, name)


def remembered(
    reader: Reader, what: str, key: Hashable, compute: Callable[[], pl.DataFrame]
) -> pl.DataFrame:
    """``compute()``'s frame (a KPI built from several queries), kept like a query's rows
    when ``reader`` is a :class:`CachedReader`: for its scope, the same ``what`` and
    ``key`` (say the period and targets), for :data:`HISTORY_TTL_S`. The queries inside
    are cached on their own as well; this also skips the frame work on top of them.
    Other readers (the chain's lake) compute every time."""
    if not isinstance(reader, CachedReader):
        return compute()
    return reader.cache.get_or_run((reader.scope, what, _hashable(key)), HISTORY_TTL_S, compute)


def _hashable(value: Any) -> Hashable:
    """``value`` as a key: dataclasses, dicts and sets (a frozen dataclass may still hold
    a dict) become tuples, in an order that does not depend on how they were built."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = dataclasses.fields(value)
        return (type(value).__name__, *(_hashable(getattr(value, f.name)) for f in fields))
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return ("set", *sorted((_hashable(v) for v in value), key=repr))
    if isinstance(value, list | tuple):
        return tuple(_hashable(v) for v in value)
    return value


def uncached(reader: Reader) -> Reader:
    """The reader behind a :class:`CachedReader` (for type checks such as "is this the
    read API?"), or ``reader`` itself."""
    return reader.inner if isinstance(reader, CachedReader) else reader
