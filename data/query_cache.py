"""The query cache: rows of repeated queries served for a short time per scope
(:class:`QueryCache`, :class:`CachedReader`; 2 s for live queries, 30 s for history), and
frames built from several queries kept the same way (:func:`remembered`)."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

import polars as pl
from storelens.data.apiauth import SYSTEM
from storelens.data.queries import validate
from storelens.data.reader_base import Reader, encode_params

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
