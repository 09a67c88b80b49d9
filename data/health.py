"""Data health per camera and store over any period: uptime, analysed fps, blackout gaps.

A camera's *uptime* in an opening hour is the share of its twelve 5-minute slots in which it
wrote anything (a person box, a track event or a queue sample): the pipeline writes queue
samples every few seconds for a camera with a queue zone and boxes for every frame with a
person, so a slot without a single row means the camera (or its pipeline) was not
analysing. A camera with no queue zone that watches an empty room reads as down too: the
caption of every health figure says so. *Analysed fps* = distinct frames with a box ÷ the
span they cover, a lower bound (frames without a person leave no row), and only where
boxes are still retained (7 days by default). A *blackout gap* is a run of consecutive
opening hours with no row at all; a store hour is *missing* when none of its cameras wrote
anything: KPI charts draw those hours as gaps, marked, never as 0 visitors.

The SQL is the named query ``camera_health`` (:mod:`storelens.data.health_sql`, registered
with the others, so it runs the same locally and through the read API, scoped by its
``stores`` parameter); this module is polars only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
from storelens.data import kpi
from storelens.data.health_sql import SLOT_S
from storelens.data.reader import Reader
from storelens.data.vocabulary import TRAFFIC_COLUMNS

SLOTS_PER_HOUR = 3600 // SLOT_S
UPTIME_CAPTION = (
    "Uptime: share of 5-minute slots of each opening hour in which a camera wrote anything "
    "(a box, an event or a queue sample); a camera without a queue zone facing an empty room "
    "reads as down. Analysed fps: frames with a person box ÷ the time they span (a lower "
    "bound; boxes are kept 7 days). A blackout gap is a run of opening hours with no row."
)


HOURS_SCHEMA = {
    "store_id": pl.String,
    "camera_id": pl.String,
    "bucket": pl.Datetime("us"),
    "slots": pl.Int64,
    "frames": pl.Int64,
    "active_s": pl.Float64,
    "uptime": pl.Float64,
    "analysed_fps": pl.Float64,
    "missing": pl.Boolean,
}


def _opening_grid(
    stores: pl.DataFrame, cameras: pl.DataFrame, flt: kpi.KpiFilter, now: datetime
) -> pl.DataFrame:
    """Every camera × opening hour of the period that has ended (store-local clock)."""
    rows: list[dict[str, Any]] = []
    by_store: dict[str, list[str]] = {}
    for cam, sid in cameras.select("camera_id", "store_id").iter_rows():
        by_store.setdefault(sid, []).append(cam)
    for s in stores.iter_rows(named=True):
        local_now = now.astimezone(ZoneInfo(s["timezone"])).replace(tzinfo=None)
        day = flt.start
        while day <= flt.end:
            for h in range(int(s["open_hour"]), int(s["close_hour"])):
                bucket = datetime.combine(day, datetime.min.time()) + timedelta(hours=h)
                if bucket + timedelta(hours=1) > local_now:
                    continue  # not over yet: neither up nor missing
                for cam in by_store.get(s["store_id"], []):
                    rows.append({"store_id": s["store_id"], "camera_id": cam, "bucket": bucket})
            day += timedelta(days=1)
    return pl.DataFrame(
        rows,
        schema={"store_id": pl.String, "camera_id": pl.String, "bucket": pl.Datetime("us")},
    )


def camera_hours(
    reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope, now: datetime | None = None
) -> pl.DataFrame:
    """Every camera × ended opening hour of the period with its slots, frames, uptime,
    analysed fps and ``missing`` (no row at all). Scope as every KPI."""
    stores = kpi.resolve_stores(reader, flt, scope)
    if not stores:
        return pl.DataFrame(schema=HOURS_SCHEMA)
    info = reader.query("stores", {"stores": stores})
    cameras = reader.query("cameras", {"stores": stores})
    grid = _opening_grid(info, cameras, flt, now or datetime.now(UTC))
    if grid.is_empty():
        return pl.DataFrame(schema=HOURS_SCHEMA)
    seen = reader.query(
        "camera_health", {"stores": stores, "start": flt.start, "end": flt.end}
    ).with_columns(pl.col("bucket").cast(pl.Datetime("us")))
    out = grid.join(seen.drop("store_id"), on=["camera_id", "bucket"], how="left").with_columns(
        pl.col("slots", "frames").fill_null(0).cast(pl.Int64)
    )
    return (
        out.with_columns(
            (pl.col("slots").clip(upper_bound=SLOTS_PER_HOUR) / SLOTS_PER_HOUR).alias("uptime"),
            pl.when((pl.col("frames") > 1) & (pl.col("active_s") > 0))
            .then(pl.col("frames") / pl.col("active_s"))
            .otherwise(None)
            .alias("analysed_fps"),
            (pl.col("slots") == 0).alias("missing"),
        )
        .select(list(HOURS_SCHEMA))
        .sort("store_id", "camera_id", "bucket")
    )


def _runs(frame: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Runs of consecutive missing hours per ``keys``: start, end (exclusive), hours."""
    schema = {
        **{k: pl.String for k in keys},
        "start": pl.Datetime("us"),
        "end": pl.Datetime("us"),
        "hours": pl.Int64,
    }
    gone = frame.filter(pl.col("missing")).sort([*keys, "bucket"])
    if gone.is_empty():
        return pl.DataFrame(schema=schema)
    new_run = pl.col("bucket").diff().over(keys).fill_null(timedelta(hours=2)) != timedelta(hours=1)
    return (
        gone.with_columns(new_run.cum_sum().over(keys).alias("_run"))
        .group_by([*keys, "_run"])
        .agg(
            pl.col("bucket").min().alias("start"),
            (pl.col("bucket").max() + timedelta(hours=1)).alias("end"),
            pl.len().cast(pl.Int64).alias("hours"),
        )
        .drop("_run")
        .sort([*keys, "start"])
        .select(list(schema))
    )


def store_hours(hours: pl.DataFrame) -> pl.DataFrame:
    """Per store and opening hour: mean camera uptime and ``missing`` when no camera of the
    store wrote anything in that hour."""
    if hours.is_empty():
        return pl.DataFrame(
            schema={
                "store_id": pl.String,
                "bucket": pl.Datetime("us"),
                "uptime": pl.Float64,
                "missing": pl.Boolean,
            }
        )
    return (
        hours.group_by("store_id", "bucket")
        .agg(pl.col("uptime").mean(), pl.col("missing").all())
        .sort("store_id", "bucket")
    )


def blackout_gaps(hours: pl.DataFrame, per: str = "store") -> pl.DataFrame:
    """Runs of opening hours with no data, per store (every camera silent) or per camera."""
    if per == "camera":
        return _runs(hours, ["store_id", "camera_id"])
    return _runs(store_hours(hours), ["store_id"])


def camera_summary(hours: pl.DataFrame) -> pl.DataFrame:
    """Per camera over the period: opening hours, uptime, analysed fps, hours with no data,
    number of blackout gaps and the longest one (hours)."""
    gaps = _runs(hours, ["store_id", "camera_id"])
    base = hours.group_by("store_id", "camera_id").agg(
        pl.len().cast(pl.Int64).alias("opening_hours"),
        pl.col("uptime").mean().alias("uptime"),
        pl.when(pl.col("active_s").sum() > 0)
        .then(pl.col("frames").sum() / pl.col("active_s").sum())
        .otherwise(None)
        .alias("analysed_fps"),
        pl.col("missing").sum().cast(pl.Int64).alias("hours_missing"),
    )
    runs = gaps.group_by("store_id", "camera_id").agg(
        pl.len().cast(pl.Int64).alias("gaps"), pl.col("hours").max().alias("longest_gap_h")
    )
    return (
        base.join(runs, on=["store_id", "camera_id"], how="left")
        .with_columns(pl.col("gaps", "longest_gap_h").fill_null(0))
        .sort("store_id", "camera_id")
    )


def store_summary(hours: pl.DataFrame) -> pl.DataFrame:
    """Per store over the period: cameras, mean uptime, analysed fps, opening hours with
    no data from any camera, blackout gaps and the longest (hours)."""
    schema = {
        "store_id": pl.String,
        "cameras": pl.Int64,
        "uptime": pl.Float64,
        "analysed_fps": pl.Float64,
        "hours_missing": pl.Int64,
        "gaps": pl.Int64,
        "longest_gap_h": pl.Int64,
    }
    if hours.is_empty():
        return pl.DataFrame(schema=schema)
    by_store = store_hours(hours)
    gaps = _runs(by_store, ["store_id"])
    base = hours.group_by("store_id").agg(
        pl.col("camera_id").n_unique().cast(pl.Int64).alias("cameras"),
        pl.col("uptime").mean().alias("uptime"),
        pl.when(pl.col("active_s").sum() > 0)
        .then(pl.col("frames").sum() / pl.col("active_s").sum())
        .otherwise(None)
        .alias("analysed_fps"),
    )
    missing = by_store.group_by("store_id").agg(
        pl.col("missing").sum().cast(pl.Int64).alias("hours_missing")
    )
    runs = gaps.group_by("store_id").agg(
        pl.len().cast(pl.Int64).alias("gaps"), pl.col("hours").max().alias("longest_gap_h")
    )
    return (
        base.join(missing, on="store_id", how="left")
        .join(runs, on="store_id", how="left")
        .with_columns(pl.col("gaps", "longest_gap_h").fill_null(0).cast(pl.Int64))
        .select(list(schema))
        .sort("store_id")
    )


def missing_store_hours(hours: pl.DataFrame) -> list[datetime]:
    """The store-local hours (of one store's frame) in which no camera wrote anything."""
    by_store = store_hours(hours)
    return by_store.filter(pl.col("missing"))["bucket"].to_list()


def null_missing(metrics: pl.DataFrame, missing: list[datetime]) -> pl.DataFrame:
    """Hourly metrics with the camera columns null in hours without camera data (sales and
    shifts stay: they come from imports), adding the hours that have no row at all, so a
    chart draws a gap there instead of 0 visitors."""
    if not missing or metrics.is_empty():
        return metrics
    gone = pl.DataFrame({"bucket": missing}, schema={"bucket": metrics.schema["bucket"]})
    stores = metrics["store_id"].unique()
    if stores.len() == 1:
        absent = gone.join(metrics.select("bucket"), on="bucket", how="anti").with_columns(
            pl.lit(stores[0]).alias("store_id")
        )
        metrics = pl.concat([metrics, absent], how="diagonal_relaxed").sort("bucket")
    hit = pl.col("bucket").is_in(gone["bucket"].implode())
    columns = [c for c in TRAFFIC_COLUMNS if c in metrics.columns]
    return metrics.with_columns(
        pl.when(hit).then(None).otherwise(pl.col(c)).alias(c) for c in columns
    )
