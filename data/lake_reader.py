"""Chain mode, HQ side: a :class:`~data.reader.Reader` backed by the lake.

The KPI functions (:mod:`data.kpi`) and role scoping (``dashboard.auth.scope_for``) only
ever call ``reader.query(name, params)`` with the named queries of :mod:`data.queries`.
:class:`LakeReader` answers exactly those, with the same SQL, on an in-memory DuckDB that
has the store schema (the migrations) and is filled from the lake's Parquet: so a KPI read
from the lake equals the same KPI read from the store's own file, and a forged store or
region is refused by the same code.

What is loaded, and when:

- the ``stores`` table comes from every store's manifest (read at most every
  ``refresh_s``; the manifests are small, one per store);
- a rollup table of one store is loaded on the first query that needs it (day and week
  KPIs need only the daily tables, hour KPIs the hourly ones) and reloaded when that
  store's manifest version changes. So a warm query is a plain in-memory DuckDB query,
  and a cold one reads only the stores and tables it asks for.

DuckDB 2.0 here has no httpfs, so objects are read through ``pyarrow.fs`` (local or S3)
and handed to DuckDB as Arrow tables. Hours a store never published are absent, never
zero: hour-bucket KPIs have no row for them, and :meth:`LakeReader.freshness` says how
many opening hours are missing and how late each store is.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
from storelens.data.db import apply_migrations
from storelens.data.errors import DataError
from storelens.data.lake import (
    DAILY_TABLES,
    EXPRESSION_COLUMNS,
    HOURLY_TABLES,
    SUPPRESSED_TABLES,
    UNDER_MINIMUM,
    Lake,
    open_lake,
    read_manifests,
    status_rows,
)
from storelens.data.queries import run_query, validate
from storelens.data.vocabulary import (
    DAILY_STORE_TABLE,
    DAILY_ZONE_TABLE,
    HOURLY_ZONE_TABLE,
    TRAFFIC_COLUMNS,
)
from storelens.data.vocabulary import HOURLY_TABLES as METRIC_HOURLY_TABLES

# Which lake tables a named query reads, by granularity (the hourly store metrics come
# from one table per source: data.vocabulary).
_NEEDS: dict[str, dict[str, tuple[str, ...]]] = {
    "metrics": {
        "hour": tuple(METRIC_HOURLY_TABLES.values()),
        "day": (DAILY_STORE_TABLE,),
        "week": (DAILY_STORE_TABLE,),
    },
    "zone_metrics": {
        "hour": (HOURLY_ZONE_TABLE,),
        "day": (DAILY_ZONE_TABLE,),
        "week": (DAILY_ZONE_TABLE,),
    },
}
_LAKE_TABLES = (*HOURLY_TABLES, *DAILY_TABLES, "alert_counts")
# The lake's alert counts with their response seconds (data/lake/tables.py, "Response
# times"): a store keeps its alert rows, HQ gets this table, so it has no store-schema twin.
_ALERT_COUNTS_DDL = """CREATE TABLE alert_counts (
    store_id VARCHAR, hour TIMESTAMPTZ, local_hour TIMESTAMP, kind VARCHAR, alerts BIGINT,
    acknowledged BIGINT, response_s DOUBLE[], readable_under_minimum BOOLEAN)"""
# Compare's median response time from the lake: the same answer as the store database's
# named query ``alert_response`` (data/queries.py) over the same alerts. The median of all
# published response seconds of the period (the lists hold every value, so this is the
# exact median), with the counts raised and acknowledged; suppressed hours count nowhere.
_ALERT_RESPONSE_SQL = """
    SELECT store_id, list_median(flatten(list(response_s))) AS median_response_s,
           sum(alerts)::BIGINT AS alerts_raised, sum(acknowledged)::BIGINT AS alerts_acknowledged
    FROM alert_counts
    WHERE list_contains($stores, store_id) AND local_hour >= $lo AND local_hour < $hi
    GROUP BY ALL ORDER BY store_id"""
_STORE_COLUMNS = ("store_id", "name", "region", "timezone", "open_hour", "close_hour", "area_m2")
_LIST_WHOLE_TABLE_AT = 20  # stale stores from which one listing of the table beats one per store


class LakeReadOnly(DataError):
    """The chain view cannot change a store's data."""


class LakeReader:
    """Reads the chain's lake through the named queries (see the module docstring)."""

    def __init__(
        self,
        lake: Lake | str | Path,
        refresh_s: float = 15.0,
        workers: int = 8,
        list_whole_table_at: int = _LIST_WHOLE_TABLE_AT,
    ) -> None:
        self.lake = lake if isinstance(lake, Lake) else open_lake(lake)
        self.refresh_s = refresh_s
        self.workers = workers
        self.list_whole_table_at = list_whole_table_at
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone = 'UTC'")
        apply_migrations(self._con)  # the store schema: every named query finds its tables
        # The lake's expression cells under the store's minimum group are NULL (suppressed
        # before publishing, data.lake.table_sql): every sum skips them and the KPIs show
        # no satisfaction there, as for a group under the minimum on the store's own pages.
        for table in SUPPRESSED_TABLES:
            for column in EXPRESSION_COLUMNS:
                self._con.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")
            self._con.execute(f"ALTER TABLE {table} ADD COLUMN {UNDER_MINIMUM} BOOLEAN")
        self._con.execute(_ALERT_COUNTS_DDL)
        self._lock = threading.RLock()
        self._manifests: dict[str, dict[str, Any]] = {}
        # (table, store) -> (manifest version, partitions loaded; None = all of them)
        self._have: dict[tuple[str, str], tuple[int, set[str] | None]] = {}
        self._listed: dict[tuple[str, str], tuple[int, list[str]]] = {}  # -> (version, keys)
        self._next_refresh = 0.0
        self.loads = 0  # objects read so far (benchmarks, tests)

    # ------------------------------------------------------------------ manifests
    def refresh(self, force: bool = False) -> None:
        """Re-read the manifests (at most every ``refresh_s`` unless ``force``)."""
        with self._lock:
            if not force and time.monotonic() < self._next_refresh:
                return
            manifests = {m["store"]["store_id"]: m for m in read_manifests(self.lake)}
            changed = [
                sid
                for sid, m in manifests.items()
                if self._manifests.get(sid, {}).get("version") != m.get("version")
                or self._manifests.get(sid, {}).get("store") != m["store"]
            ]
            gone = [sid for sid in self._manifests if sid not in manifests]
            if changed or gone:
                rows = [
                    {c: manifests[sid]["store"].get(c) for c in _STORE_COLUMNS} for sid in changed
                ]
                stores = pa.Table.from_pylist(
                    rows,
                    schema=pa.schema(
                        [
                            ("store_id", pa.string()),
                            ("name", pa.string()),
                            ("region", pa.string()),
                            ("timezone", pa.string()),
                            ("open_hour", pa.int32()),
                            ("close_hour", pa.int32()),
                            ("area_m2", pa.float64()),
                        ]
                    ),
                )
                self._con.execute("BEGIN TRANSACTION")
                self._con.execute(
                    "DELETE FROM stores WHERE list_contains($ids, store_id)",
                    {"ids": changed + gone},
                )
                self._con.register("_lake_stores", stores)
                self._con.execute("INSERT INTO stores BY NAME SELECT * FROM _lake_stores")
                self._con.unregister("_lake_stores")
                for sid in gone:
                    for table in _LAKE_TABLES:
                        self._con.execute(f"DELETE FROM {table} WHERE store_id = ?", [sid])
                self._con.execute("COMMIT")
            self._manifests = manifests
            self._next_refresh = time.monotonic() + self.refresh_s

    # ------------------------------------------------------------------ loading
    def _listing(self, table: str, stores: list[str]) -> dict[str, list[str]]:
        """Object keys per store (cached per manifest version), each store under the region
        its manifest names: copies left under a region the store moved away from are never
        read."""
        out: dict[str, list[str]] = {}
        todo = []
        for sid in stores:
            cached = self._listed.get((table, sid))
            if cached is not None and cached[0] == self._manifests[sid].get("version"):
                out[sid] = cached[1]
            else:
                todo.append(sid)
        if not todo:
            return out
        where = {
            sid: f"region={self._manifests[sid]['store']['region']}/store_id={sid}" for sid in todo
        }
        if len(todo) >= self.list_whole_table_at:
            found: dict[str, list[str]] = {sid: [] for sid in todo}
            wanted = {v: k for k, v in where.items()}
            for key in self.lake.list_files(f"table={table}/", ".parquet"):
                sid = wanted.get("/".join(key.split("/")[1:3]))
                if sid is not None:
                    found[sid].append(key)
        else:

            def one(sid: str) -> list[str]:
                return self.lake.list_files(f"table={table}/{where[sid]}/", ".parquet")

            with ThreadPoolExecutor(self.workers) as pool:
                found = dict(zip(todo, pool.map(one, todo), strict=True))
        for sid, keys in found.items():
            self._listed[(table, sid)] = (self._manifests[sid].get("version"), keys)
            out[sid] = keys
        return out

    def _read(self, table: str, files: list[str]) -> pa.Table | None:
        if not files:
            return None
        columns = [d[0] for d in self._con.execute(f"SELECT * FROM {table} LIMIT 0").description]
        dataset = pads.dataset(
            [self.lake.path(f) for f in files],
            filesystem=self.lake.fs,
            format="parquet",
            partitioning=pads.partitioning(
                pa.schema(
                    [("table", pa.string()), ("region", pa.string()), ("store_id", pa.string())]
                ),
                flavor="hive",
            ),
            partition_base_dir=self.lake.path(""),
        )
        self.loads += len(files)
        # Only the columns this reader's schema knows (a newer store may publish more).
        return dataset.to_table(columns=[c for c in columns if c in dataset.schema.names])

    def _load(self, table: str, stores: list[str], parts: set[str] | None) -> None:
        """Bring ``table`` of ``stores`` up to date: every partition (``parts`` None) or
        those partitions (hourly tables: the days a query asks for, so an hour-granularity
        Compare over 500 stores reads 28 days, not a year, per store)."""
        reset: list[str] = []
        files: list[str] = []
        todo: dict[str, set[str] | None] = {}  # store -> partitions to read (None = all)
        for sid in stores:
            version = self._manifests[sid].get("version")
            entry = self._have.get((table, sid))
            have: set[str] | None = set()
            if entry is None or entry[0] != version:
                reset.append(sid)  # new version: its rows are replaced
            else:
                have = entry[1]
            if have is None:
                continue  # every partition already loaded
            if parts is None:
                todo[sid] = None
            elif parts - have:
                todo[sid] = parts - have
        if not todo:
            return
        listing = self._listing(table, sorted(todo))
        for sid, want in todo.items():
            files += [
                k for k in listing[sid] if want is None or k.split("/")[3].split("=", 1)[1] in want
            ]
        data = self._read(table, files)
        self._con.execute("BEGIN TRANSACTION")
        try:
            if reset:
                self._con.execute(
                    f"DELETE FROM {table} WHERE list_contains($ids, store_id)", {"ids": reset}
                )
            if data is not None and data.num_rows:
                self._con.register("_lake_part", data)
                names = ", ".join(f'"{c}"' for c in data.column_names)
                self._con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM _lake_part")
                self._con.unregister("_lake_part")
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise
        for sid, want in todo.items():
            version = self._manifests[sid].get("version")
            entry = self._have.get((table, sid))
            before = entry[1] if entry is not None and sid not in reset else set()
            self._have[(table, sid)] = (version, None if want is None else (before or set()) | want)

    def ensure(
        self,
        tables: tuple[str, ...],
        stores: list[str] | None = None,
        days: tuple[date, date] | None = None,
    ) -> None:
        """Load ``tables`` of ``stores`` (default all) where the lake has a newer version;
        for hourly tables only the store-local ``days`` (inclusive) when given."""
        self.refresh()
        with self._lock:
            wanted = [
                sid
                for sid in (stores if stores is not None else sorted(self._manifests))
                if sid in self._manifests
            ]
            for table in tables:
                parts = None
                if days is not None and (table in HOURLY_TABLES or table == "alert_counts"):
                    n = (days[1] - days[0]).days + 1
                    parts = {(days[0] + timedelta(days=i)).isoformat() for i in range(n)}
                self._load(table, wanted, parts)

    # ------------------------------------------------------------------ Reader protocol
    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a named query (same validation and SQL as every other reader)."""
        _, parsed = validate(name, params)
        if name == "alert_response":  # the lake has alert counts, not the alert rows
            return self._alert_response(parsed)
        needs = _NEEDS.get(name, {}).get(str(getattr(parsed, "granularity", "day")), ())
        start, end = getattr(parsed, "start", None), getattr(parsed, "end", None)
        self.ensure(
            needs,
            list(getattr(parsed, "stores", None) or []) or None,
            (start, end) if start is not None and end is not None else None,
        )
        cur = self._con.cursor()
        try:
            frame = run_query(cur, name, params)
            if name == "metrics" and getattr(parsed, "granularity", "") == "hour":
                frame = self._traffic_missing_as_null(cur, frame)
            return frame
        finally:
            cur.close()

    def _alert_response(self, parsed: Any) -> pl.DataFrame:
        """``alert_response`` (same parameters, same columns) from the lake's alert_counts."""
        days = (parsed.start, parsed.end)
        self.ensure(("alert_counts",), list(parsed.stores), days)
        lo = datetime.combine(parsed.start, datetime.min.time())
        hi = datetime.combine(parsed.end + timedelta(days=1), datetime.min.time())
        cur = self._con.cursor()
        try:
            return cur.sql(
                _ALERT_RESPONSE_SQL, params={"stores": list(parsed.stores), "lo": lo, "hi": hi}
            ).pl()
        finally:
            cur.close()

    @staticmethod
    def _traffic_missing_as_null(
        cur: duckdb.DuckDBPyConnection, frame: pl.DataFrame
    ) -> pl.DataFrame:
        """An hour with sales or shifts but no published traffic rollup (the store's pipeline
        was down, or the hour never reached the lake) gets null traffic columns: the
        store's own query would show 0 visitors there, which reads as an empty shop."""
        if frame.is_empty():
            return frame
        have = cur.sql(
            """SELECT DISTINCT store_id, local_hour AS bucket, true AS _traffic
               FROM hourly_traffic WHERE list_contains($stores, store_id)""",
            params={"stores": frame["store_id"].unique().to_list()},
        ).pl()
        have = have.with_columns(pl.col("bucket").cast(frame.schema["bucket"]))
        joined = frame.join(have, on=["store_id", "bucket"], how="left")
        present = pl.col("_traffic").fill_null(False)
        return joined.with_columns(
            pl.when(present).then(pl.col(c)).otherwise(None).alias(c) for c in TRAFFIC_COLUMNS
        ).select(frame.columns)

    def ack_alert(self, alert_id: int, user: str) -> bool:
        raise LakeReadOnly(
            "the chain view reads the lake, which is read-only: acknowledge alerts on the "
            "store's own dashboard"
        )

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        raise LakeReadOnly("the chain view has no live cameras: open the store's own dashboard")

    # ------------------------------------------------------------------ freshness
    def status(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """:func:`data.lake.lake_status` from the cached manifests (refreshed when due)."""
        self.refresh()
        with self._lock:
            manifests = [self._manifests[sid] for sid in sorted(self._manifests)]
        return status_rows(manifests, now or datetime.now(UTC))

    def freshness(self, now: datetime | None = None) -> pl.DataFrame:
        """Per store: newest published hour (store-local), hours late, missing opening hours."""
        schema = {
            "store_id": pl.String,
            "region": pl.String,
            "newest_local_hour": pl.String,
            "lag_hours": pl.Float64,
            "hours_published": pl.Int64,
            "missing_hours_total": pl.Int64,
        }
        rows = self.status(now)
        return pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema)

    def close(self) -> None:
        with self._lock:
            self._con.close()
