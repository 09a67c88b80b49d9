"""Chain mode, store side: publish a store's aggregates to a lake of Hive-partitioned Parquet.

One StoreLens runs per store; HQ needs every store's numbers in one place. Each store
publishes **aggregates only** (the hourly and daily rollups, alert counts per kind and hour,
and camera data health per hour; never tracks, frames or embeddings) to a lake URL:

- a local folder (``/srv/lake``, ``file:///srv/lake``; the embedded default ``var/lake``), or
- an S3-compatible store (``s3://bucket/prefix?endpoint=http://host:8333``), through
  ``pyarrow.fs.S3FileSystem`` with the store's own key (env ``STORELENS_LAKE_KEY`` /
  ``STORELENS_LAKE_SECRET``, else the usual ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``).

Layout (partition columns live only in the path, as Hive and Spark expect)::

    table=<t>/region=<r>/store_id=<s>/date=<local day>/part-0.parquet   hourly tables, health
    table=<t>/region=<r>/store_id=<s>/year=<yyyy>/part-0.parquet         daily tables
    _manifests/store_id=<s>/manifest.json   what HQ reads: store row, newest hour, missing hours
    _state/store_id=<s>/state.json          the publisher's fingerprints (its watermark)

Why it is safe to run again and again, and to kill:

- **Idempotent**: one object per (table, store, partition) under a fixed name, so a republish
  replaces and can never duplicate. Each partition's content fingerprint (row count + XOR of
  row hashes, computed by DuckDB) is kept in ``state.json``; only partitions whose
  fingerprint changed are written, so a second run writes nothing, and a late correction in
  the store's rollups republishes exactly the day (or year file) it touched.
- **Atomic for readers**: locally each object is written to a dot-named temp file in the same
  folder and renamed over the old one (``rename`` is atomic; readers skip ``.``/``_`` files);
  on S3 an object becomes visible only when its single PUT completes. The manifest is
  written last, so it never claims hours whose files are not there. ``kill -9`` at any point
  leaves complete objects only; the next run rewrites what the state did not record.
- **Store-and-forward**: the store's own DuckDB is the store (rollups are kept for good);
  the fingerprints are the forward pointer. While the lake is unreachable,
  :class:`PublishLoop` retries with exponential backoff; when it is back the backlog goes
  out oldest partition first, nothing lost (everything not yet recorded is rewritten),
  nothing doubled (fixed names).

DuckDB, pyarrow and polars only: no vision, no Streamlit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from storelens.data import kpi
from storelens.data.errors import DataError, InvalidParams
from storelens.data.vocabulary import METRICS, sql_aggregates

log = logging.getLogger(__name__)

FORMAT = 1
PART_NAME = "part-0.parquet"
MISSING_HOURS_LISTED = 200  # newest missing hours named in the manifest (all are counted)


class LakeError(DataError):
    """The lake could not be read or written (unreachable, refused, damaged)."""


class LakeUnavailable(LakeError):
    """The lake did not answer (network, server down): retry later."""


class LakeAccessDenied(LakeError):
    """The lake refused this store's credentials for the object (outside its prefix)."""


# ------------------------------------------------------------------------ the tables

# Source SQL per lake table, for one store (``$store``). ``part`` is the partition value
# (store-local date, or year for the daily tables), ``last_day`` orders the backlog.
# ``SELECT *`` on the rollups on purpose: a column added to a rollup by a migration is
# published without touching this module.
_HOURLY = """SELECT * EXCLUDE (store_id), CAST(CAST(local_hour AS DATE) AS VARCHAR) AS part,
    CAST(local_hour AS DATE) AS last_day FROM {table} WHERE store_id = $store"""
_DAILY = """SELECT * EXCLUDE (store_id), CAST(year(day) AS VARCHAR) AS part,
    day AS last_day FROM {table} WHERE store_id = $store"""

TABLES: dict[str, tuple[str, str]] = {
    # name: (partition key, source SQL)
    "hourly_traffic": ("date", _HOURLY.format(table="hourly_traffic")),
    "hourly_zone": ("date", _HOURLY.format(table="hourly_zone")),
    "hourly_sales": ("date", _HOURLY.format(table="hourly_sales")),
    "hourly_staff": ("date", _HOURLY.format(table="hourly_staff")),
    "daily_store": ("year", _DAILY.format(table="daily_store")),
    "daily_zone": ("year", _DAILY.format(table="daily_zone")),
    # Alert counts per kind and hour (the alert rows carry free text: not published).
    "alert_counts": (
        "date",
        """SELECT hour, local_hour, kind, count(*)::BIGINT AS alerts,
              count(acknowledged_ts)::BIGINT AS acknowledged,
              CAST(CAST(local_hour AS DATE) AS VARCHAR) AS part,
              CAST(local_hour AS DATE) AS last_day
           FROM (SELECT utc_hour(a.ts) AS hour, timezone(s.timezone, utc_hour(a.ts)) AS local_hour,
                        a.kind, a.acknowledged_ts
                 FROM alerts a JOIN stores s ON s.store_id = a.store_id
                 WHERE a.store_id = $store)
           GROUP BY ALL""",
    ),
    # Data health per camera and hour, from the detections still retained (7 days by
    # default): frames analysed (frames with at least one box, so a lower bound on the
    # analysed rate), the span covered and the share of the hour it covers. A camera-hour
    # with no row at all is a gap.
    "camera_health": (
        "date",
        """SELECT camera_id, hour, local_hour, frames, boxes, active_s,
              least(active_s / 3600.0, 1.0) AS uptime_share,
              frames / greatest(active_s, 1.0) AS analysed_fps,
              CAST(CAST(local_hour AS DATE) AS VARCHAR) AS part,
              CAST(local_hour AS DATE) AS last_day
           FROM (SELECT d.camera_id, utc_hour(d.ts) AS hour,
                        timezone(s.timezone, utc_hour(d.ts)) AS local_hour,
                        count(DISTINCT d.ts)::BIGINT AS frames, count(*)::BIGINT AS boxes,
                        epoch(max(d.ts) - min(d.ts))::DOUBLE AS active_s
                 FROM detections d JOIN cameras c ON c.camera_id = d.camera_id
                 JOIN stores s ON s.store_id = c.store_id
                 WHERE c.store_id = $store GROUP BY ALL)""",
    ),
}
HOURLY_TABLES = ("hourly_traffic", "hourly_zone", "hourly_sales", "hourly_staff")
DAILY_TABLES = ("daily_store", "daily_zone")

# ------------------------------------------------------------------------ the minimum group
#
# The dashboards hide satisfaction where fewer than the minimum group of tracks was read;
# the lake must not hold those cells either (issue 18 item 7: 2,579 zone-hours of 1-4
# tracks went out). Before a row leaves the store, its expression columns (the readable
# track count and the expected satisfied / neutral / frustrated counts, which for one or
# two shoppers are their faces' readings) are **suppressed**: NULL, with
# ``readable_under_minimum`` = true saying why. Suppression rather than merging into a
# coarser cell because
#
# - the grains are a hierarchy the lake publishes all of (hour -> day, zone -> store):
#   a merged coarse cell next to its shown fine cells gives the small cell back by
#   subtraction, so merging is only safe with complementary suppression anyway;
# - the rest of the row (visitors, sales, dwell, queue) stays at its grain, so HQ's
#   traffic and sales KPIs do not change, and the KPI code needs no new grain: a null
#   is skipped by every sum, and ``data.kpi.satisfaction_exprs`` already hides a figure
#   under the minimum group.
#
# The daily rows are derived from the hourly ones by the rollup (a day is the sum of its
# hours), so a daily cell published as is would give a suppressed hour back as "day minus
# the shown hours". The daily expression columns are therefore published as the sum of
# the day's *shown* hourly cells (each >= the minimum group, so the sum is 0 or >= it), and
# suppressed where that is under the minimum: hour and day KPIs read from the lake agree,
# and no difference of published cells isolates fewer than the minimum group of tracks.
# The store-level and zone-level rows are suppressed each on its own count (zones overlap
# and do not cover the store, so no sum of zones equals the store).
#
# Alert counts: a "frustrated" alert is one shopper's expression reading (detectors/
# alerts.py raises it per track), so an hour's count of frustrated alerts under the
# minimum group is suppressed the same way (null ``alerts`` and ``acknowledged``,
# ``readable_under_minimum``); the other kinds (queue waits, cameras) read no face.
#
# Not suppressed: per-track timings (dwell, queue waits) and counts of people, which carry
# no reading of a face; the store-local database keeps the full rows for its own pages.

EXPRESSION_COLUMNS = ("tracks_readable", "satisfied", "neutral", "frustrated")
UNDER_MINIMUM = "readable_under_minimum"
_SUPPRESSED_FROM = {  # lake table -> the hourly table its expression columns come from
    "hourly_traffic": None,
    "hourly_zone": None,
    "daily_store": "hourly_traffic",
    "daily_zone": "hourly_zone",
}
EXPRESSION_ALERT_KINDS = "kind LIKE 'frustrated%'"


SUPPRESSED_TABLES = tuple(_SUPPRESSED_FROM)
_ALERT_COUNTS = ("alerts", "acknowledged")


def _check_min_group(min_group: int) -> int:
    if isinstance(min_group, bool) or not isinstance(min_group, int) or min_group < 1:
        raise InvalidParams(f"min_group must be a whole number >= 1, got {min_group!r}")
    return min_group


def table_sql(table: str, min_group: int = kpi.MIN_GROUP) -> str:
    """The SQL of what goes to the lake for ``table`` (one store, ``$store``): the
    rollup's rows with expression cells under ``min_group`` readable tracks suppressed."""
    _, sql = TABLES[table]
    m = _check_min_group(min_group)
    if table == "alert_counts":
        hidden = f"({EXPRESSION_ALERT_KINDS} AND alerts < {m})"
        cells = ", ".join(f"CASE WHEN NOT {hidden} THEN {c} END AS {c}" for c in _ALERT_COUNTS)
        return f"SELECT * REPLACE ({cells}), {hidden} AS {UNDER_MINIMUM} FROM ({sql})"
    source = _SUPPRESSED_FROM.get(table, "")
    if source == "":
        return sql  # no expression columns
    if source is None:  # hourly: each cell on its own count
        shown = f"tracks_readable >= {m}"
        cells = ", ".join(f"CASE WHEN {shown} THEN {c} END AS {c}" for c in EXPRESSION_COLUMNS)
        return f"SELECT * REPLACE ({cells}), NOT ({shown}) AS {UNDER_MINIMUM} FROM ({sql})"
    zone = ", zone" if table == "daily_zone" else ""
    sums = ", ".join(
        f"sum({c}) FILTER (WHERE tracks_readable >= {m})"
        + ("::BIGINT" if c == "tracks_readable" else "")
        + f" AS {c}"
        for c in EXPRESSION_COLUMNS
    )
    shown = f"s.tracks_readable >= {m}"
    cells = ", ".join(f"CASE WHEN {shown} THEN s.{c} END AS {c}" for c in EXPRESSION_COLUMNS)
    on = "s.day = d.day" + (" AND s.zone = d.zone" if zone else "")
    return f"""WITH s AS (SELECT CAST(local_hour AS DATE) AS day{zone}, {sums}
                FROM {source} WHERE store_id = $store GROUP BY ALL)
        SELECT d.* REPLACE ({cells}), coalesce({shown}, false) = false AS {UNDER_MINIMUM}
        FROM ({sql}) d LEFT JOIN s ON {on}"""


# ------------------------------------------------------------------------ the lake


def _safe_segment(value: str, what: str) -> str:
    """Partition values go into object keys: refuse anything that could escape a prefix."""
    if not value or any(c in value for c in "/\\=\x00") or value in (".", ".."):
        raise InvalidParams(
            f"{what} {value!r} cannot be used in a lake path: it must be non-empty and "
            "contain no '/', '\\\\', '=' or NUL. Rename the store/region in the store config."
        )
    return value


@dataclass
class Lake:
    """A lake root on a pyarrow filesystem (local folder or S3 bucket/prefix)."""

    url: str
    fs: pafs.FileSystem
    root: str
    is_local: bool

    def path(self, rel: str) -> str:
        return f"{self.root.rstrip('/')}/{rel}" if self.root else rel

    def data_key(self, table: str, region: str, store_id: str, part_key: str, part: str) -> str:
        return (
            f"table={table}/region={_safe_segment(region, 'region')}/"
            f"store_id={_safe_segment(store_id, 'store_id')}/{part_key}={part}/{PART_NAME}"
        )

    @staticmethod
    def manifest_key(store_id: str) -> str:
        return f"_manifests/store_id={_safe_segment(store_id, 'store_id')}/manifest.json"

    @staticmethod
    def state_key(store_id: str) -> str:
        return f"_state/store_id={_safe_segment(store_id, 'store_id')}/state.json"

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except FileNotFoundError:
            raise
        except (OSError, pa.ArrowException) as exc:
            text = str(exc)
            # HeadObject refused has no body: the SDK says only ACCESS_DENIED.
            if any(m in text for m in ("AccessDenied", "Access Denied", "ACCESS_DENIED", "403")):
                raise LakeAccessDenied(
                    f"lake {self.url} refused {what}: {text.splitlines()[0]}. A store's key "
                    "may read and write only its own store_id prefixes; check "
                    "STORELENS_LAKE_KEY."
                ) from exc
            raise LakeUnavailable(
                f"lake {self.url}: {what} failed: {text.splitlines()[0]}"
            ) from exc

    def write_atomic(self, rel: str, data: bytes) -> None:
        """Readers see the old object or the complete new one, never part of it."""
        target = self.path(rel)
        with self._errors(f"writing {rel}"):
            if not self.is_local:
                # One PUT of the whole body: S3 shows an object only once it is complete.
                with self.fs.open_output_stream(target) as out:
                    out.write(data)
                return
            folder, name = target.rsplit("/", 1)
            self.fs.create_dir(folder, recursive=True)
            tmp = f"{folder}/.{name}.tmp-{uuid.uuid4().hex}"
            try:
                with open(tmp, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def read_bytes(self, rel: str) -> bytes | None:
        """The object's bytes, or None if it does not exist."""
        with self._errors(f"reading {rel}"):
            try:
                with self.fs.open_input_stream(self.path(rel)) as stream:
                    return stream.read()
            except FileNotFoundError:
                return None

    def read_json(self, rel: str) -> dict[str, Any] | None:
        raw = self.read_bytes(rel)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise LakeError(f"lake {self.url}: {rel} is not JSON ({exc})") from exc
        return value if isinstance(value, dict) else None

    def write_json(self, rel: str, value: dict[str, Any], compact: bool = False) -> None:
        """``compact`` for machine-only files: the publisher's state holds a fingerprint per
        object (1,500 per store-year), and pretty-printing it cost ~100 ms per publish."""
        text = (
            json.dumps(value, separators=(",", ":"), default=str)
            if compact
            else json.dumps(value, indent=1, sort_keys=True, default=str)
        )
        self.write_atomic(rel, text.encode())

    def list_files(self, prefix: str, suffix: str = "") -> list[str]:
        """Keys (relative to the root) of visible objects under ``prefix``, sorted."""
        with self._errors(f"listing {prefix}"):
            try:
                infos = self.fs.get_file_info(
                    pafs.FileSelector(self.path(prefix), recursive=True, allow_not_found=True)
                )
            except FileNotFoundError:
                return []
        base = self.path("")
        out = []
        for info in infos:
            if info.type != pafs.FileType.File:
                continue
            rel = info.path[len(base) :] if info.path.startswith(base) else info.path
            name = rel.rsplit("/", 1)[-1]
            if name.startswith((".", "_")) or not rel.endswith(suffix):
                continue
            out.append(rel)
        return sorted(out)

    def delete(self, rel: str) -> None:
        with self._errors(f"deleting {rel}"), contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(rel))


def open_lake(
    url: str | Path,
    access_key: str | None = None,
    secret_key: str | None = None,
    timeout_s: float = 5.0,
) -> Lake:
    """Parse a lake URL: a folder, ``file:///folder`` or ``s3://bucket[/prefix]?endpoint=...``.

    S3 options in the query string: ``endpoint`` (``http://host:port``; default AWS),
    ``region`` (default ``us-east-1``). Keys come from the arguments, else env
    ``STORELENS_LAKE_KEY`` / ``STORELENS_LAKE_SECRET``, else ``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY``; they never go in the URL (URLs end up in logs).
    """
    text = str(url).strip()
    if not text:
        raise InvalidParams("lake URL is empty: give a folder (var/lake) or s3://bucket/prefix")
    parsed = urllib.parse.urlsplit(text)
    if parsed.scheme in ("", "file") or (len(parsed.scheme) == 1 and os.name == "nt"):
        folder = Path(parsed.path if parsed.scheme == "file" else text).expanduser().resolve()
        if folder.exists() and not folder.is_dir():
            raise InvalidParams(f"lake URL {text!r}: {folder} is a file; give a folder")
        return Lake(text, pafs.LocalFileSystem(), folder.as_posix(), True)
    if parsed.scheme != "s3":
        raise InvalidParams(
            f"lake URL {text!r}: scheme {parsed.scheme!r} is not supported; use a folder, "
            "file:///folder or s3://bucket/prefix?endpoint=http://host:port"
        )
    if parsed.username or parsed.password:
        raise InvalidParams(
            f"lake URL for bucket {parsed.hostname!r} carries credentials: remove them and set "
            "STORELENS_LAKE_KEY / STORELENS_LAKE_SECRET instead"
        )
    bucket = parsed.hostname or ""
    if not bucket:
        raise InvalidParams(f"lake URL {text!r}: no bucket; use s3://bucket/prefix")
    options = dict(urllib.parse.parse_qsl(parsed.query))
    unknown = set(options) - {"endpoint", "region"}
    if unknown:
        raise InvalidParams(
            f"lake URL {text!r}: unknown option(s) {sorted(unknown)}; known: endpoint, region"
        )
    kwargs: dict[str, Any] = {
        "region": options.get("region", "us-east-1"),
        "connect_timeout": timeout_s,
        "request_timeout": timeout_s,
        # Fail over to the store-and-forward loop quickly instead of retrying inside one call.
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=2),
        # Small objects go as one PutObject instead of a multipart upload.
        "allow_delayed_open": True,
    }
    endpoint = options.get("endpoint")
    if endpoint:
        ep = urllib.parse.urlsplit(endpoint)
        if ep.scheme not in ("http", "https") or not ep.netloc:
            raise InvalidParams(
                f"lake URL option endpoint={endpoint!r}: expected http://host:port or https://host"
            )
        kwargs["endpoint_override"] = ep.netloc
        kwargs["scheme"] = ep.scheme
        kwargs["force_virtual_addressing"] = False
    key = access_key or os.environ.get("STORELENS_LAKE_KEY") or os.environ.get("AWS_ACCESS_KEY_ID")
    secret = (
        secret_key
        or os.environ.get("STORELENS_LAKE_SECRET")
        or os.environ.get("AWS_SECRET_ACCESS_KEY")
    )
    if key and secret:
        kwargs["access_key"], kwargs["secret_key"] = key, secret
    else:
        kwargs["anonymous"] = True
    fs = pafs.S3FileSystem(**kwargs)
    root = f"{bucket}/{parsed.path.strip('/')}".rstrip("/")
    return Lake(text, fs, root, False)


def default_lake_url() -> str | None:
    """``STORELENS_LAKE`` if set (``storelens up --lake`` sets it for its children)."""
    return os.environ.get("STORELENS_LAKE") or None


# ------------------------------------------------------------------------ publishing


@dataclass
class StorePublish:
    store_id: str
    written: int = 0
    unchanged: int = 0
    rows: int = 0
    bytes: int = 0
    newest_hour: str | None = None
    missing_hours: int = 0


@dataclass
class PublishSummary:
    lake: str
    stores: list[StorePublish] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def written(self) -> int:
        return sum(s.written for s in self.stores)

    def as_dict(self) -> dict[str, Any]:
        return {
            "lake": self.lake,
            "written": self.written,
            "unchanged": sum(s.unchanged for s in self.stores),
            "rows": sum(s.rows for s in self.stores),
            "bytes": sum(s.bytes for s in self.stores),
            "seconds": round(self.seconds, 3),
            "stores": [asdict(s) for s in self.stores],
        }


def _columns(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [d[0] for d in con.execute(f"SELECT * FROM {sql} LIMIT 0", {"store": ""}).description]


def fingerprints(
    con: duckdb.DuckDBPyConnection, table: str, store_id: str, min_group: int = kpi.MIN_GROUP
) -> dict[str, tuple[str, date]]:
    """{partition: (fingerprint, last local day)} of one table for one store.

    fingerprint = ``rows:xor-of-row-hashes``: any changed, added or removed row changes it.
    (DuckDB's hash may change between DuckDB versions: then everything is republished
    once, which is harmless.)
    """
    sql = table_sql(table, min_group)
    cols = [c for c in _columns(con, f"({sql})") if c not in ("part", "last_day")]
    row_hash = "hash(" + ", ".join(f'"{c}"' for c in cols) + ")"
    rows = con.execute(
        f"""SELECT part, count(*), bit_xor({row_hash}), max(last_day)
            FROM ({sql}) GROUP BY part""",
        {"store": store_id},
    ).fetchall()
    return {part: (f"{n}:{h}", last) for part, n, h, last in rows}


def _partition_tables(
    con: duckdb.DuckDBPyConnection,
    table: str,
    store_id: str,
    parts: list[str],
    min_group: int = kpi.MIN_GROUP,
) -> dict[str, pa.Table]:
    """The rows of several partitions of one table in one query (a query per object cost
    ~8 ms of the store's CPU, measured), split by partition, each sorted by its key."""
    sql = table_sql(table, min_group)
    order = "hour" if table not in DAILY_TABLES else "day"
    extra = ", zone" if table in ("hourly_zone", "daily_zone") else ""
    extra += ", camera_id" if table == "camera_health" else ""
    extra += ", kind" if table == "alert_counts" else ""
    rows = con.sql(
        f"""SELECT * EXCLUDE (last_day) FROM ({sql}) WHERE list_contains($parts, part)
            ORDER BY part, {order}{extra}""",
        params={"store": store_id, "parts": parts},
    ).to_arrow_table()
    keys = rows.column("part").to_pylist()
    rows = rows.drop_columns(["part"])
    out: dict[str, pa.Table] = {}
    begin = 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[begin]:
            out[keys[begin]] = rows.slice(begin, i - begin)
            begin = i
    return out


def parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


_MISSING_SQL = """
WITH s AS (SELECT open_hour, close_hour FROM stores WHERE store_id = $store),
have AS (SELECT DISTINCT local_hour FROM hourly_traffic WHERE store_id = $store),
span AS (SELECT min(local_hour) AS lo, max(local_hour) AS hi FROM have),
grid AS (
    SELECT CAST(d AS TIMESTAMP) + to_hours(h) AS local_hour
    FROM span, s,
         generate_series(CAST(span.lo AS DATE), CAST(span.hi AS DATE), INTERVAL 1 DAY) t(d),
         generate_series(s.open_hour, s.close_hour - 1) u(h)
)
SELECT g.local_hour FROM grid g, span
WHERE g.local_hour >= span.lo AND g.local_hour <= span.hi
  AND g.local_hour NOT IN (SELECT local_hour FROM have)
ORDER BY 1
"""


def _manifest(
    con: duckdb.DuckDBPyConnection, store: dict[str, Any], version: int
) -> dict[str, Any]:
    sid = store["store_id"]
    newest, newest_local, first_local, hours = con.execute(
        """SELECT max(hour), max(local_hour), min(local_hour), count(*) FROM hourly_traffic
           WHERE store_id = $store""",
        {"store": sid},
    ).fetchall()[0]
    missing = [r[0] for r in con.execute(_MISSING_SQL, {"store": sid}).fetchall()]
    cameras, newest_health, hours_seen, uptime, fps = con.execute(
        f"""WITH h AS ({TABLES["camera_health"][1]}),
            last AS (SELECT max(hour) AS hi FROM h),
            recent AS (SELECT h.* FROM h, last WHERE h.hour > last.hi - INTERVAL 24 HOUR)
            SELECT (SELECT count(*) FROM cameras WHERE store_id = $store),
                   (SELECT hi FROM last), count(*),
                   sum(active_s) / 86400.0, sum(frames) / nullif(sum(active_s), 0)
            FROM recent""",
        {"store": sid},
    ).fetchall()[0]
    health = {
        # The 24 h up to the newest hour with any camera frame, from the camera_health rows.
        "cameras": int(cameras),
        "newest_hour": newest_health.astimezone(UTC).isoformat() if newest_health else None,
        "camera_hours_24h": int(hours_seen),
        "uptime_share_24h": (
            round(min(1.0, uptime / cameras), 4) if uptime is not None and cameras else None
        ),
        "analysed_fps_24h": round(fps, 3) if fps is not None else None,
    }
    return {
        "health": health,
        "format": FORMAT,
        "store": store,
        "version": version,
        "published_at": datetime.now(UTC).isoformat(),
        "newest_hour": newest.astimezone(UTC).isoformat() if newest else None,
        "newest_local_hour": newest_local.isoformat() if newest_local else None,
        "first_local_hour": first_local.isoformat() if first_local else None,
        "hours_published": int(hours),
        "missing_hours_total": len(missing),
        "missing_hours": [m.isoformat() for m in missing[-MISSING_HOURS_LISTED:]],
    }


def publish_store(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    store_id: str,
    state_every: int = 50,
    stop: threading.Event | None = None,
    min_group: int = kpi.MIN_GROUP,
) -> StorePublish:
    """Publish every partition of one store whose fingerprint changed, oldest first;
    expression cells under ``min_group`` readable tracks are suppressed (:func:`table_sql`).

    With ``stop`` set midway, the fingerprints written so far are saved and the manifest
    is left as it was (the next round goes on from there)."""
    rows = con.sql(
        "SELECT * FROM stores WHERE store_id = $store", params={"store": store_id}
    ).to_arrow_table()
    if rows.num_rows == 0:
        raise InvalidParams(
            f"store {store_id!r} is not in this database; `--store` must name one of its stores"
        )
    store = rows.to_pylist()[0]
    region = store["region"]
    state = lake.read_json(lake.state_key(store_id)) or {}
    done: dict[str, str] = dict(state.get("fingerprints", {}))
    # Regions this store's objects must be removed from (kept in the state until done, so
    # a kill between the move and the clean-up still cleans up on the next run).
    stale: set[str] = set(state.get("stale_regions", []))
    if state.get("region") not in (None, region):
        # The store moved region (e.g. the store config changed it): its objects live under
        # another path now; republish all there, then remove the old ones.
        done = {}
        stale.add(state["region"])
    stale.discard(region)

    def save_state() -> None:
        lake.write_json(
            lake.state_key(store_id),
            {"region": region, "fingerprints": done, "stale_regions": sorted(stale)},
            compact=True,
        )

    todo: list[tuple[date, str, str, str]] = []
    result = StorePublish(store_id)
    for table, (part_key, _) in TABLES.items():
        for part, (fp, last_day) in fingerprints(con, table, store_id, min_group).items():
            key = lake.data_key(table, region, store_id, part_key, part)
            if done.get(key) == fp:
                result.unchanged += 1
            else:
                todo.append((last_day, table, part, fp))
    todo.sort()  # in order: the oldest backlog first
    rows_by_part: dict[str, dict[str, pa.Table]] = {}
    for table in TABLES:
        parts = [p for _, t, p, _ in todo if t == table]
        if parts:
            rows_by_part[table] = _partition_tables(con, table, store_id, parts, min_group)
    for i, (_, table, part, fp) in enumerate(todo, start=1):
        if stop is not None and stop.is_set():
            save_state()
            return result
        part_key = TABLES[table][0]
        key = lake.data_key(table, region, store_id, part_key, part)
        data = rows_by_part[table].pop(part)
        body = parquet_bytes(data)
        lake.write_atomic(key, body)
        done[key] = fp
        result.written += 1
        result.rows += data.num_rows
        result.bytes += len(body)
        if i % state_every == 0:
            save_state()
    manifest_old = lake.read_json(lake.manifest_key(store_id)) or {}
    manifest = _manifest(con, store, int(manifest_old.get("version", 0)) + 1)
    manifest["min_group"] = min_group  # expression cells under it are not in the lake
    result.newest_hour = manifest["newest_hour"]
    result.missing_hours = manifest["missing_hours_total"]
    changed_catalog = manifest_old.get("store") != json.loads(json.dumps(store, default=str))
    if todo or changed_catalog or not manifest_old or stale:
        save_state()
        lake.write_json(lake.manifest_key(store_id), manifest)  # last: never ahead of the data
    if stale:
        # Readers follow the manifest's region, so the old copies are already invisible to
        # them; removing them keeps whole-table scans (Spark, DuckDB) free of doubles.
        for old_region in sorted(stale):
            try:
                for table in TABLES:
                    prefix = f"table={table}/region={old_region}/store_id={store_id}/"
                    for key in lake.list_files(prefix):
                        lake.delete(key)
            except LakeAccessDenied as exc:  # a key scoped to the new region only
                log.warning("store %s: old region %s not cleaned: %s", store_id, old_region, exc)
        stale.clear()
        save_state()
    return result


def publish(
    con: duckdb.DuckDBPyConnection,
    lake: Lake,
    stores: list[str] | None = None,
    stop: threading.Event | None = None,
    skip_refused: dict[str, str] | None = None,
    min_group: int = kpi.MIN_GROUP,
) -> PublishSummary:
    """Publish ``stores`` (default: every store in the database) to ``lake``.

    With ``skip_refused`` (a dict), a store the lake refuses is recorded there (store ->
    message) and the others still go out; without it the refusal is raised."""
    started = time.perf_counter()
    con.execute("SET TimeZone = 'UTC'")
    ids = stores or [r[0] for r in con.execute("SELECT store_id FROM stores ORDER BY 1").fetchall()]
    summary = PublishSummary(lake.url)
    for sid in ids:
        if stop is not None and stop.is_set():
            break
        try:
            summary.stores.append(publish_store(con, lake, sid, stop=stop, min_group=min_group))
        except LakeAccessDenied as exc:
            if skip_refused is None:
                raise
            if sid not in skip_refused:
                log.error("lake refused store %s (skipped from now on): %s", sid, exc)
            skip_refused[sid] = str(exc)
    summary.seconds = time.perf_counter() - started
    return summary


def publish_db(
    db_path: str | Path,
    lake: Lake,
    stores: list[str] | None = None,
    min_group: int = kpi.MIN_GROUP,
) -> PublishSummary:
    """Publish from a DuckDB file no pipeline holds (the CLI; the pipeline publishes itself)."""
    from storelens.data.db import open_database
    from storelens.data.errors import DatabaseLocked

    try:
        con = open_database(db_path, read_only=True)
    except DatabaseLocked as exc:
        raise DatabaseLocked(
            f"{exc} A running pipeline publishes its own hours when started with "
            "`storelens up --lake URL` (or STORELENS_LAKE)."
        ) from exc
    try:
        return publish(con, lake, stores, min_group=min_group)
    finally:
        con.close()


# ------------------------------------------------------------------------ status


def read_manifests(lake: Lake) -> list[dict[str, Any]]:
    """Every store's manifest in the lake."""
    keys = [k for k in lake.list_files("_manifests/") if k.endswith("/manifest.json")]
    out = []
    for key in keys:
        manifest = lake.read_json(key)
        if manifest and manifest.get("format") == FORMAT:
            out.append(manifest)
    return sorted(out, key=lambda m: m["store"]["store_id"])


def lake_status(lake: Lake, now: datetime | None = None) -> list[dict[str, Any]]:
    """Per store: newest published hour, how late it is, and the missing opening hours."""
    return status_rows(read_manifests(lake), now)


def status_rows(
    manifests: list[dict[str, Any]], now: datetime | None = None
) -> list[dict[str, Any]]:
    """:func:`lake_status` from manifests already read."""
    now = now or datetime.now(UTC)
    rows = []
    for m in manifests:
        newest = m.get("newest_hour")
        lag_h = None
        if newest:
            # The newest hour is complete an hour after it starts.
            end = datetime.fromisoformat(newest) + timedelta(hours=1)
            lag_h = max(0.0, round((now - end).total_seconds() / 3600.0, 2))
        rows.append(
            {
                "store_id": m["store"]["store_id"],
                "region": m["store"]["region"],
                "newest_hour": newest,
                "newest_local_hour": m.get("newest_local_hour"),
                "first_local_hour": m.get("first_local_hour"),
                "lag_hours": lag_h,
                "hours_published": m.get("hours_published", 0),
                "missing_hours_total": m.get("missing_hours_total", 0),
                "missing_hours": m.get("missing_hours", []),
                "camera_uptime_24h": (m.get("health") or {}).get("uptime_share_24h"),
                "analysed_fps_24h": (m.get("health") or {}).get("analysed_fps_24h"),
                "published_at": m.get("published_at"),
                "version": m.get("version"),
            }
        )
    return rows


# ------------------------------------------------------------------------ store-and-forward


class PublishLoop:
    """Publishes every ``interval_s``; while the lake is down, retries with exponential
    backoff (``base_s`` doubling up to ``max_s``, with jitter) and keeps the store working.

    ``connect`` returns a DuckDB cursor to read from (the pipeline passes its writer's
    cursor, so no second process opens the file); the cursor is closed after each round.
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        lake: Lake,
        stores: list[str] | None = None,
        interval_s: float = 60.0,
        base_s: float = 2.0,
        max_s: float = 300.0,
        min_group: int = kpi.MIN_GROUP,
    ) -> None:
        self.connect, self.lake, self.stores = connect, lake, stores
        self.min_group = _check_min_group(min_group)
        self.interval_s, self.base_s, self.max_s = interval_s, base_s, max_s
        self.failures = 0
        self.rounds = 0
        # Stores whose objects the lake refused (a key scoped to another store): reported
        # once each, and they never hold back the stores this key may write.
        self.refused: dict[str, str] = {}
        self.last_error: str | None = None
        self.last_summary: PublishSummary | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storelens-lake", daemon=True)

    def start(self) -> PublishLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def next_delay(self) -> float:
        if self.failures == 0:
            return self.interval_s
        delay = min(self.max_s, self.base_s * 2 ** (self.failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def run_once(self) -> PublishSummary | None:
        con = self.connect()
        try:
            summary = publish(
                con,
                self.lake,
                self.stores,
                stop=self._stop,
                skip_refused=self.refused,
                min_group=self.min_group,
            )
        except (LakeUnavailable, OSError) as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.warning(
                "lake publish failed (%d in a row), retrying in ~%.0f s: %s",
                self.failures,
                self.next_delay(),
                exc,
            )
            return None
        finally:
            with contextlib.suppress(duckdb.Error):
                con.close()
        self.failures, self.last_error = 0, None
        self.last_summary = summary
        self.rounds += 1
        if summary.written:
            log.info("lake: published %d object(s) to %s", summary.written, self.lake.url)
        return summary

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # never take the store down because of the lake
                self.failures += 1
                log.exception("lake publish round failed")
            if self._stop.wait(self.next_delay()):
                return


# ------------------------------------------------------------------------ chain-wide table
#
# The chain-wide daily and weekly tables (DuckDB here, Spark in jobs/daily_kpis.py) define
# no KPI: an engine sums the metrics (data.vocabulary) to the table's grain, and
# :func:`daily_kpi_table` / :func:`weekly_kpi_table` add the KPIs of data.kpi to those sums,
# so the lake's conversion is the pages' conversion, satisfaction interval included.

DAILY_KEYS = ("region", "store_id", "day")
# The daily table carries these of the headline's figures, in the headline's order.
_DAILY_FIGURES = frozenset(
    {"visitors", "transactions", "sales", "conversion", "sales_per_visitor", "star"}
    | {"satisfaction_index", "satisfaction_low", "satisfaction_high"}
    | {"staff_hours", "labour_cost", "labour_cost_per_visitor", "alerts"}
)
DAILY_KPI_COLUMNS = (*DAILY_KEYS, *(f for f in kpi.HEADLINE_FIGURES if f in _DAILY_FIGURES))

# The week sums the weekly table's KPIs need, and their previous week's (``prev_<name>``)
# for the week-over-week change.
WEEKLY_SUMS = ("visitors", "transactions", "sales")
WEEKLY_CHANGES = ("visitors", "sales")
WEEKLY_KPI_COLUMNS = (
    "region",
    "store_id",
    "week",
    "days",
    "visitors",
    "transactions",
    "sales",
    "conversion",
    "visitors_wow_pct",
    "sales_wow_pct",
)


def daily_kpi_table(summed: pl.DataFrame) -> pl.DataFrame:
    """The daily table's rows from metric sums per region, store and day: the KPIs are
    those of :func:`storelens.data.kpi.with_kpis` (each row on its own, so any batch of
    rows gives the same result: Spark applies this per Arrow batch)."""
    return kpi.with_kpis(summed).select(DAILY_KPI_COLUMNS)


def weekly_kpi_table(weeks: pl.DataFrame) -> pl.DataFrame:
    """The weekly table's rows from week sums (:data:`WEEKLY_SUMS`, ``days``) and the
    previous week's (``prev_visitors``, ``prev_sales``; null where that week has no data)."""
    return kpi.with_kpis(weeks).select(
        *(c for c in WEEKLY_KPI_COLUMNS if not c.endswith("_wow_pct")),
        *(kpi.change_pct(c, f"prev_{c}").alias(f"{c}_wow_pct") for c in WEEKLY_CHANGES),
    )


def plain_arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as Arrow with plain ``string`` columns (polars writes string views or
    large strings, which Spark's Arrow reader and older Parquet readers may not take)."""
    table = frame.to_arrow()
    schema = pa.schema(
        pa.field(f.name, pa.string())
        if pa.types.is_large_string(f.type) or pa.types.is_string_view(f.type)
        else f
        for f in table.schema
    )
    return table.cast(schema)


def read_lake_table(lake: Lake, table: str) -> pa.Table:
    """One lake table of every store that has a manifest, with ``region`` and ``store_id``
    from the path (only the region the manifest names: no copies from before a move)."""
    import pyarrow.dataset as pads

    current = {
        f"region={m['store']['region']}/store_id={m['store']['store_id']}"
        for m in read_manifests(lake)
    }
    files = [
        f
        for f in lake.list_files(f"table={table}/", ".parquet")
        if "/".join(f.split("/")[1:3]) in current  # each store under its current region only
    ]
    if not files:
        raise LakeError(f"lake {lake.url} has no table={table}/ objects; publish first")
    dataset = pads.dataset(
        [lake.path(f) for f in files],
        filesystem=lake.fs,
        format="parquet",
        partitioning=pads.partitioning(
            pa.schema([("table", pa.string()), ("region", pa.string()), ("store_id", pa.string())]),
            flavor="hive",
        ),
        partition_base_dir=lake.path(""),
    )
    return dataset.to_table()


def daily_kpis_duckdb(lake: Lake) -> pa.Table:
    """The daily all-stores KPI table computed by DuckDB (the reference for the Spark job
    in ``jobs/daily_kpis.py``): one row per store and store-local day."""
    daily = read_lake_table(lake, "daily_store")
    con = duckdb.connect()
    try:
        con.register("daily", daily)
        # One row per store and day already (the rollup's key); summing keeps the types
        # of data.vocabulary whatever a store's older files hold.
        summed = con.sql(
            f"""SELECT {", ".join(DAILY_KEYS)}, {sql_aggregates(METRICS, hourly=False)}
            FROM daily GROUP BY ALL ORDER BY store_id, day"""
        ).pl()
    finally:
        con.close()
    return plain_arrow(daily_kpi_table(summed))


def loop_from_env(
    connect: Callable[[], duckdb.DuckDBPyConnection], min_group: int = kpi.MIN_GROUP
) -> PublishLoop | None:
    """The pipeline's publisher when ``STORELENS_LAKE`` is set (``storelens up --lake``):
    every store in its database, every ``STORELENS_LAKE_INTERVAL_S`` seconds (default 60),
    with the store's minimum group (``privacy.min_group_size``)."""
    url = default_lake_url()
    if not url:
        return None
    raw = os.environ.get("STORELENS_LAKE_INTERVAL_S", "60")
    try:
        interval = float(raw)
    except ValueError:
        raise InvalidParams(
            f"STORELENS_LAKE_INTERVAL_S={raw!r} is not a number of seconds (e.g. 60)"
        ) from None
    if not 1 <= interval <= 86400:
        raise InvalidParams(f"STORELENS_LAKE_INTERVAL_S={raw}: must be between 1 and 86400")
    return PublishLoop(connect, open_lake(url), interval_s=interval, min_group=min_group).start()


def weekly_kpis_duckdb(lake: Lake) -> pa.Table:
    """Week over week per store, computed by DuckDB (the reference for the Spark job)."""
    daily = read_lake_table(lake, "daily_store")
    sums = sql_aggregates((m for m in METRICS if m.name in WEEKLY_SUMS), hourly=False)
    prev = ", ".join(f"p.{c} AS prev_{c}" for c in WEEKLY_CHANGES)
    con = duckdb.connect()
    try:
        con.register("daily", daily)
        weeks = con.sql(
            f"""WITH w AS (
                SELECT region, store_id, CAST(date_trunc('week', day) AS DATE) AS week,
                       count(*) AS days, {sums}
                FROM daily GROUP BY ALL)
            SELECT w.*, {prev}
            FROM w LEFT JOIN w p ON p.store_id = w.store_id AND p.week = w.week - 7
            ORDER BY w.store_id, w.week"""
        ).pl()
    finally:
        con.close()
    return plain_arrow(weekly_kpi_table(weeks))
