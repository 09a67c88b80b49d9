"""Named read queries: the only SQL a reader can run, locally or over the read API.

Each query has a pydantic parameter model (bounded, extra fields forbidden) and a function
``(cursor, params) -> polars.DataFrame``. Readers send a name and a JSON-able dict; nothing
else crosses the wire, so no raw SQL is ever accepted from a client.

Time conventions: ``ts``-like columns are UTC (``datetime[us, UTC]``); ``bucket`` and
``local_hour`` columns are the store's wall clock (naive ``datetime``), because KPIs are
asked for in store-local days.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl
from pydantic import Field, ValidationError
from storelens.data.errors import InvalidParams, UnknownQuery
from storelens.data.query_registry import (
    REGISTRY,
    AlertQuery,
    CameraList,
    CameraSince,
    NamedQuery,
    NoParams,
    StoreList,
    StoreRange,
    _Params,
    register,
)
from storelens.data.vocabulary import (
    DAILY_STORE_TABLE,
    DAILY_ZONE_TABLE,
    HOURLY_TABLES,
    HOURLY_ZONE_TABLE,
    METRICS,
    ZONE_METRICS,
    Metric,
    of_source,
    sql_aggregates,
    sql_zero_filled,
)

_BUCKET = {
    "hour": "local_hour",
    "day": "date_trunc('day', local_hour)",
    "week": "date_trunc('week', local_hour)",  # ISO weeks start on Monday
}


def validate(name: str, params: dict[str, Any] | None) -> tuple[NamedQuery, _Params]:
    query = REGISTRY.get(name)
    if query is None:
        raise UnknownQuery(f"no query named {name!r}; known: {sorted(REGISTRY)}")
    try:
        parsed = query.params.model_validate(params or {})
    except ValidationError as exc:
        raise InvalidParams(f"query {name!r}: {exc.errors(include_url=False)}") from exc
    return query, parsed


def run_query(
    con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Validate ``params`` and run the named query on ``con`` (a cursor or connection)."""
    query, parsed = validate(name, params)
    return query.run(con, parsed)


def _end_exclusive(end: date) -> datetime:
    return datetime.combine(end + timedelta(days=1), datetime.min.time())


def _start(start: date) -> datetime:
    return datetime.combine(start, datetime.min.time())


# ---------------------------------------------------------------------------- live


@register("people_per_minute", CameraSince, "distinct person track ids per minute, one camera")
def _people_per_minute(con: duckdb.DuckDBPyConnection, p: CameraSince) -> pl.DataFrame:
    return con.sql(
        """
        SELECT utc_minute(ts) AS minute,
               count(DISTINCT track_id) FILTER (WHERE track_id >= 0) AS people,
               count(*) AS boxes
        FROM detections
        WHERE camera_id = $camera AND ts >= $since AND class = 'person'
        GROUP BY 1 ORDER BY 1
        """,
        params={"camera": p.camera_id, "since": p.since},
    ).pl()


@register("latest_counts", CameraList, "per camera: last detection, people now and recently")
def _latest_counts(con: duckdb.DuckDBPyConnection, p: CameraList) -> pl.DataFrame:
    return con.sql(
        """
        WITH cams AS (
            SELECT camera_id, store_id, name FROM cameras
            WHERE $ids IS NULL OR list_contains($ids, camera_id)
        ),
        last AS (
            SELECT d.camera_id, max(d.ts) AS last_ts FROM detections d
            JOIN cams USING (camera_id)
            WHERE d.ts >= now() - INTERVAL 1 DAY GROUP BY 1
        ),
        now_people AS (
            SELECT d.camera_id, count(*) AS people_now FROM detections d
            JOIN last l ON l.camera_id = d.camera_id AND d.ts = l.last_ts
            WHERE d.class = 'person' GROUP BY 1
        ),
        recent AS (
            SELECT d.camera_id,
                   count(DISTINCT track_id) FILTER (WHERE track_id >= 0) AS people_recent
            FROM detections d JOIN last l ON l.camera_id = d.camera_id
            WHERE d.class = 'person' AND d.ts > l.last_ts - to_seconds($window)
            GROUP BY 1
        ),
        enters AS (
            SELECT e.camera_id, count(*) FILTER (WHERE kind = 'enter') AS enters_last_hour,
                   count(*) FILTER (WHERE kind = 'exit') AS exits_last_hour
            FROM events e JOIN cams USING (camera_id)
            WHERE e.ts >= now() - INTERVAL 1 HOUR GROUP BY 1
        )
        SELECT c.camera_id, c.store_id, c.name, l.last_ts,
               coalesce(n.people_now, 0) AS people_now,
               coalesce(r.people_recent, 0) AS people_recent,
               coalesce(e.enters_last_hour, 0) AS enters_last_hour,
               coalesce(e.exits_last_hour, 0) AS exits_last_hour
        FROM cams c
        LEFT JOIN last l USING (camera_id)
        LEFT JOIN now_people n USING (camera_id)
        LEFT JOIN recent r USING (camera_id)
        LEFT JOIN enters e USING (camera_id)
        ORDER BY c.camera_id
        """,
        params={"ids": p.camera_ids, "window": p.window_s},
    ).pl()


# ---------------------------------------------------------------------------- catalog


@register("stores", StoreList, "the stores table (optionally only some ids)")
def _stores(con: duckdb.DuckDBPyConnection, p: StoreList) -> pl.DataFrame:
    return con.sql(
        """SELECT * FROM stores WHERE $ids IS NULL OR list_contains($ids, store_id)
           ORDER BY store_id""",
        params={"ids": p.stores},
    ).pl()


@register("cameras", StoreList, "cameras of some or all stores")
def _cameras(con: duckdb.DuckDBPyConnection, p: StoreList) -> pl.DataFrame:
    return con.sql(
        """SELECT camera_id, store_id, name, role, source_masked,
                  CAST(lines AS VARCHAR) AS lines, CAST(zones AS VARCHAR) AS zones
           FROM cameras WHERE $ids IS NULL OR list_contains($ids, store_id)
           ORDER BY camera_id""",
        params={"ids": p.stores},
    ).pl()


@register("table_sizes", NoParams, "row count of every table (privacy page, benchmarks)")
def _table_sizes(con: duckdb.DuckDBPyConnection, p: NoParams) -> pl.DataFrame:
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1"
        ).fetchall()
    ]
    counts = [con.execute(f'SELECT count(*) FROM "{n}"').fetchall()[0][0] for n in names]
    return pl.DataFrame(
        {"table": names, "rows": counts}, schema={"table": pl.String, "rows": pl.Int64}
    )


# ---------------------------------------------------------------------------- KPI inputs


def _hourly_store_metrics_sql(bucket: str) -> str:
    """Every store metric per bucket: one aggregate per hourly source table, full-joined
    (an hour may have sales but no camera rows, or the reverse)."""
    parts = []
    for source, table in HOURLY_TABLES.items():
        parts.append(
            f"""
        from_{source} AS (
            SELECT store_id, {bucket} AS bucket,
                {sql_aggregates(of_source(source), hourly=True)}
            FROM {table}
            WHERE list_contains($stores, store_id) AND local_hour >= $lo AND local_hour < $hi
            GROUP BY ALL
        )"""
        )
    first, *rest = (f"from_{source}" for source in HOURLY_TABLES)
    joins = "".join(f" FULL JOIN {name} USING (store_id, bucket)" for name in rest)
    return f"""
        WITH {",".join(parts)}
        SELECT store_id, bucket, {sql_zero_filled(METRICS)}
        FROM {first}{joins}
        ORDER BY store_id, bucket
        """


def _daily_metrics(
    con: duckdb.DuckDBPyConnection,
    p: StoreRange,
    table: str,
    keys: tuple[str, ...],
    metrics: tuple[Metric, ...],
) -> pl.DataFrame:
    """Day / week buckets from the daily rollups (same columns as the hourly path)."""
    bucket = "day" if p.granularity == "day" else "date_trunc('week', day)"
    key_list = ", ".join(keys)
    return con.sql(
        f"""
        SELECT {key_list}, CAST({bucket} AS TIMESTAMP) AS bucket,
            {sql_aggregates(metrics, hourly=False)}
        FROM {table}
        WHERE list_contains($stores, store_id) AND day >= $lo AND day <= $hi
        GROUP BY ALL ORDER BY {key_list}, bucket
        """,
        params={"stores": p.stores, "lo": p.start, "hi": p.end},
    ).pl()


@register(
    "metrics",
    StoreRange,
    "additive hourly rollups per store and local bucket (traffic, sales, staff)",
)
def _metrics(con: duckdb.DuckDBPyConnection, p: StoreRange) -> pl.DataFrame:
    if p.granularity != "hour":
        return _daily_metrics(con, p, DAILY_STORE_TABLE, ("store_id",), METRICS)
    return con.sql(
        _hourly_store_metrics_sql(_BUCKET[p.granularity]),
        params={"stores": p.stores, "lo": _start(p.start), "hi": _end_exclusive(p.end)},
    ).pl()


@register("zone_metrics", StoreRange, "additive hourly rollups per store, zone and local bucket")
def _zone_metrics(con: duckdb.DuckDBPyConnection, p: StoreRange) -> pl.DataFrame:
    if p.granularity != "hour":
        return _daily_metrics(con, p, DAILY_ZONE_TABLE, ("store_id", "zone"), ZONE_METRICS)
    bucket = _BUCKET[p.granularity]
    return con.sql(
        f"""
        SELECT store_id, zone, {bucket} AS bucket, {sql_aggregates(ZONE_METRICS, hourly=True)}
        FROM {HOURLY_ZONE_TABLE}
        WHERE list_contains($stores, store_id) AND local_hour >= $lo AND local_hour < $hi
        GROUP BY ALL ORDER BY store_id, zone, bucket
        """,
        params={"stores": p.stores, "lo": _start(p.start), "hi": _end_exclusive(p.end)},
    ).pl()


@register("alerts", AlertQuery, "alerts of some stores since a time, newest first")
def _alerts(con: duckdb.DuckDBPyConnection, p: AlertQuery) -> pl.DataFrame:
    return con.sql(
        """
        SELECT alert_id, ts, store_id, camera_id, kind, detail, acknowledged_by, acknowledged_ts,
               zone, zone_kind, response_s
        FROM alerts
        WHERE list_contains($stores, store_id) AND ts >= $since
          AND (NOT $open OR acknowledged_ts IS NULL)
        ORDER BY ts DESC LIMIT $limit
        """,
        params={"stores": p.stores, "since": p.since, "open": p.only_open, "limit": p.limit},
    ).pl()


@register(
    "alert_response",
    StoreRange,
    "per store: median seconds from raised to acknowledged of the alerts raised on the "
    "store-local days (issue 19 item 7), with how many were raised and acknowledged",
)
def _alert_response(con: duckdb.DuckDBPyConnection, p: StoreRange) -> pl.DataFrame:
    return con.sql(
        """
        SELECT a.store_id, median(a.response_s) AS median_response_s,
               count(*)::BIGINT AS alerts_raised, count(a.response_s)::BIGINT AS alerts_acknowledged
        FROM alerts a JOIN stores s ON s.store_id = a.store_id
        WHERE list_contains($stores, a.store_id)
          AND timezone(s.timezone, a.ts) >= $lo AND timezone(s.timezone, a.ts) < $hi
        GROUP BY ALL ORDER BY a.store_id
        """,
        params={"stores": p.stores, "lo": _start(p.start), "hi": _end_exclusive(p.end)},
    ).pl()


class HeatmapQuery(_Params):
    stores: list[str] = Field(..., min_length=1, max_length=1000)
    since: datetime
    x_bins: int = Field(16, ge=2, le=200)
    y_bins: int = Field(9, ge=2, le=200)


@register(
    "position_heatmap",
    HeatmapQuery,
    "where people stand: person boxes' bottom-centre binned over each camera's frame",
)
def _position_heatmap(con: duckdb.DuckDBPyConnection, p: HeatmapQuery) -> pl.DataFrame:
    # The frame size is not stored, so each camera's extent is the largest box edge seen.
    return con.sql(
        """
        WITH d AS (
            SELECT d.camera_id, d.track_id, (d.x1 + d.x2) / 2 AS cx, d.y2 AS cy
            FROM detections d JOIN cameras c ON c.camera_id = d.camera_id
            WHERE list_contains($stores, c.store_id) AND d.ts >= $since AND d.class = 'person'
        ),
        ext AS (SELECT camera_id, max(cx) * 1.0001 + 1e-6 AS w, max(cy) * 1.0001 + 1e-6 AS h
                FROM d GROUP BY 1)
        SELECT d.camera_id,
               CAST(floor(d.cx / ext.w * $nx) AS INTEGER) AS x_bin,
               CAST(floor(d.cy / ext.h * $ny) AS INTEGER) AS y_bin,
               count(DISTINCT d.track_id) FILTER (WHERE d.track_id >= 0)
                 + count(*) FILTER (WHERE d.track_id < 0) AS people
        FROM d JOIN ext USING (camera_id)
        GROUP BY ALL ORDER BY 1, 2, 3
        """,
        params={"stores": p.stores, "since": p.since, "nx": p.x_bins, "ny": p.y_bins},
    ).pl()


# Named queries that live in their own modules register themselves on import; importing
# them here means every reader (they all validate through this module) knows them.
from storelens.data import health_sql  # noqa: E402, F401  (camera_health)
