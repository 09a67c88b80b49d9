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

The room's public face: import from here (``from storelens.data.lake import open_lake``).
The code lives in the submodules, which import each other directly:

- :mod:`~storelens.data.lake.access`: opening a lake URL, the :class:`Lake` handle, atomic
  writes, the lake's errors.
- :mod:`~storelens.data.lake.tables`: each table's SQL and the minimum-group suppression.
- :mod:`~storelens.data.lake.publish`: publishing a store (fingerprints, Parquet, manifest).
- :mod:`~storelens.data.lake.loop`: the store-and-forward publish loop.
- :mod:`~storelens.data.lake.status`: manifests, lag and missing hours per store.
- :mod:`~storelens.data.lake.chain`: the chain-wide daily and weekly KPI tables.

DuckDB, pyarrow and polars only: no vision, no Streamlit.
"""

from storelens.data.lake.access import (
    FORMAT,
    PART_NAME,
    Lake,
    LakeAccessDenied,
    LakeError,
    LakeUnavailable,
    default_lake_url,
    open_lake,
)
from storelens.data.lake.chain import (
    DAILY_KEYS,
    DAILY_KPI_COLUMNS,
    WEEKLY_CHANGES,
    WEEKLY_KPI_COLUMNS,
    WEEKLY_SUMS,
    daily_kpi_table,
    daily_kpis_duckdb,
    plain_arrow,
    read_lake_table,
    weekly_kpi_table,
    weekly_kpis_duckdb,
)
from storelens.data.lake.loop import PublishLoop, loop_from_env
from storelens.data.lake.publish import (
    MISSING_HOURS_LISTED,
    PublishSummary,
    StorePublish,
    fingerprints,
    parquet_bytes,
    publish,
    publish_db,
    publish_store,
)
from storelens.data.lake.status import lake_status, read_manifests, status_rows
from storelens.data.lake.tables import (
    DAILY_TABLES,
    EXPRESSION_ALERT_KINDS,
    EXPRESSION_COLUMNS,
    HOURLY_TABLES,
    SUPPRESSED_TABLES,
    TABLES,
    UNDER_MINIMUM,
    table_sql,
)

__all__ = [
    "DAILY_KEYS",
    "DAILY_KPI_COLUMNS",
    "DAILY_TABLES",
    "EXPRESSION_ALERT_KINDS",
    "EXPRESSION_COLUMNS",
    "FORMAT",
    "HOURLY_TABLES",
    "MISSING_HOURS_LISTED",
    "PART_NAME",
    "SUPPRESSED_TABLES",
    "TABLES",
    "UNDER_MINIMUM",
    "WEEKLY_CHANGES",
    "WEEKLY_KPI_COLUMNS",
    "WEEKLY_SUMS",
    "Lake",
    "LakeAccessDenied",
    "LakeError",
    "LakeUnavailable",
    "PublishLoop",
    "PublishSummary",
    "StorePublish",
    "daily_kpi_table",
    "daily_kpis_duckdb",
    "default_lake_url",
    "fingerprints",
    "lake_status",
    "loop_from_env",
    "open_lake",
    "parquet_bytes",
    "plain_arrow",
    "publish",
    "publish_db",
    "publish_store",
    "read_lake_table",
    "read_manifests",
    "status_rows",
    "table_sql",
    "weekly_kpi_table",
    "weekly_kpis_duckdb",
]
