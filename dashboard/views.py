"""Pure polars shaping between the KPI frames of data/ and the charts (no Streamlit).

Only re-arrangements live here: KPIs are defined once in data/kpi.py, and a table at a
grain of its own (zone × hour of day, zone) is made by ``kpi.summarize``, which sums the
metrics and applies those same definitions.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import polars as pl
from storelens.data import kpi
from storelens.data.kpi import MIN_GROUP

# Headline KPIs of the Store page: key in kpi.headline(), label, format, higher-is-better.
HEADLINE = [
    ("visitors", "Visitors", "{:,.0f}", True),
    ("conversion", "Conversion", "{:.1%}", True),
    ("sales_per_visitor", "Sales per visitor", "€{:,.2f}", True),
    ("satisfaction_index", "Satisfaction index", "{:+.0f}", True),
    ("queue_wait_s_avg", "Avg queue wait", "{:.0f} s", False),
    ("labour_cost_per_visitor", "Labour cost / visitor", "€{:,.2f}", False),
]

# Leaderboard columns of the Compare page: column, label, higher-is-better.
LEADERBOARD = [
    ("visitors", "Visitors", True),
    ("conversion", "Conversion", True),
    ("sales_per_visitor", "Sales / visitor", True),
    ("satisfaction_index", "Satisfaction", True),
    ("queue_wait_s_avg", "Queue wait (s)", False),
    ("star", "STAR", True),
    ("labour_cost_per_visitor", "Labour € / visitor", False),
    ("labour_pct_of_sales", "Labour % of sales", False),
    ("median_response_min", "Median response time (min)", False),
    ("visitors_per_open_hour", "Visitors / open hour", True),
    ("sales_per_open_hour", "Sales / open hour", True),
    ("visitors_per_m2", "Visitors / m²", True),
    ("sales_per_m2", "Sales / m²", True),
    ("visitors_wow_pct", "Visitors WoW %", True),
    ("conversion_wow_pct", "Conversion WoW %", True),
]


# Shown right after the satisfaction column wherever it appears in a table: its 95 %
# interval and the number of readable faces it stands on (never flagged as outliers).
SATISFACTION_CONTEXT = [
    ("satisfaction_low", "Satisfaction 95 % low"),
    ("satisfaction_high", "Satisfaction 95 % high"),
    ("tracks_readable", "Faces read"),
]


def with_satisfaction_context(columns: list[str], available: list[str]) -> list[str]:
    """``columns`` with the satisfaction interval and sample size after the index."""
    out = []
    for c in columns:
        out.append(c)
        if c == "satisfaction_index":
            out += [k for k, _ in SATISFACTION_CONTEXT if k in available]
    return out


# What the satisfaction index can and cannot stand on (issue 17; README, "Expression
# model"): shown under the index on the Store page and the heatmap.
SATISFACTION_MEANING = (
    "Satisfied = a clear smile; frustrated = a shopper visibly more displeased than their "
    "own resting face. Frustration and smiles are not yet measured on camera footage: "
    "Privacy → model card."
)


def satisfaction_note(row: dict[str, Any]) -> str:
    """ "95 % CI −12…+20 · 412 faces" for one row with the kpi columns, "" if hidden."""
    low, high, n = (
        row.get("satisfaction_low"),
        row.get("satisfaction_high"),
        row.get("tracks_readable"),
    )
    if low is None or high is None or n is None:
        return ""
    return f"95 % CI {low:+.0f}…{high:+.0f} · {int(n):,} faces"


# Index KPIs (−100..100) are compared in points, not relative to a median near zero.
_POINTS_KPIS = {"satisfaction_index": 50.0}  # points that count as a full-scale deviation


def comparison_period(start: date, end: date) -> tuple[date, date]:
    """The same weekdays one (or more whole) week(s) earlier, as long as the period."""
    days = (end - start).days + 1
    shift = timedelta(days=7 * math.ceil(days / 7))
    return start - shift, end - shift


def headline_delta(now: Any, before: Any, key: str = "") -> float | None:
    """Change now vs before: relative for counts and money, in points for an index (a
    relative change of a number near zero or negative says nothing)."""
    if now is None or before is None:
        return None
    if key in _POINTS_KPIS:
        return float(now - before)
    if before == 0:
        return None
    return (now - before) / abs(before)


def format_delta(key: str, delta: float) -> str:
    return f"{delta:+.0f} pts" if key in _POINTS_KPIS else f"{delta:+.1%}"


def satisfaction_by_zone_hour(
    zone_hourly: pl.DataFrame, min_group: int = MIN_GROUP
) -> pl.DataFrame:
    """Zone × hour of day over the whole period; the index (with its interval) is null
    (hidden) where fewer than ``min_group`` tracks with a readable face contribute."""
    if zone_hourly.is_empty():
        return pl.DataFrame(
            schema={
                "zone": pl.String,
                "hour": pl.Int8,
                "tracks_readable": pl.Int64,
                "satisfaction_index": pl.Float64,
                "satisfaction_low": pl.Float64,
                "satisfaction_high": pl.Float64,
            }
        )
    hour_of_day = pl.col("bucket").dt.hour().alias("hour")
    summed = kpi.summarize(zone_hourly, ["zone", hour_of_day], min_group)
    return summed.select(
        "zone",
        "hour",
        "tracks_readable",
        "satisfaction_index",
        "satisfaction_low",
        "satisfaction_high",
    ).sort("zone", "hour")


def dwell_by_zone(zone_frame: pl.DataFrame) -> pl.DataFrame:
    """Per zone over the period: visits and mean dwell (zones with no visit dropped)."""
    if zone_frame.is_empty():
        return pl.DataFrame(
            schema={"zone": pl.String, "dwell_visits": pl.Int64, "avg_dwell_s": pl.Float64}
        )
    return (
        kpi.summarize(zone_frame, ["zone"])
        .filter(pl.col("dwell_visits") > 0)
        .select("zone", "dwell_visits", "avg_dwell_s")
        .sort("avg_dwell_s")
    )


def flag_outliers(frame: pl.DataFrame, columns: list[str], threshold: float = 3.5) -> pl.DataFrame:
    """Add ``outliers``: the columns where a store's robust z-score (median / MAD) exceeds
    ``threshold`` (Iglewicz–Hoaglin's 3.5). Needs at least 4 stores to say anything."""
    flags: list[list[str]] = [[] for _ in range(frame.height)]
    if frame.height >= 4:
        for column in columns:
            if column not in frame.columns:
                continue
            values = frame[column].cast(pl.Float64)
            median = values.median()
            if median is None:
                continue
            mad = (values - median).abs().median()
            if not mad:
                continue
            for i, v in enumerate(values.to_list()):
                if v is not None and abs(0.6745 * (v - median) / mad) > threshold:
                    flags[i].append(column)
    return frame.with_columns(pl.Series("outliers", [", ".join(f) for f in flags], pl.String))


def rank_stores(
    comparison: pl.DataFrame, columns: list[tuple[str, str, bool]] | None = None
) -> pl.DataFrame:
    """Score each store by how far its KPIs sit from the median store, and say why.

    Per KPI the deviation from the median is relative (points / 50 for the satisfaction
    index), signed so that better is positive, and clipped to ±1 so one KPI cannot swamp
    the rest; score = 50 + 50 × mean deviation (0–100, 50 = a typical store). Strengths and
    weaknesses name the two largest deviations of at least 10 %.

    Returns store_id, name, score, strengths, weaknesses, sorted best first.
    """
    columns = columns or [
        (c, label, up)
        for c, label, up in LEADERBOARD
        if c
        in (
            "conversion",
            "sales_per_visitor",
            "satisfaction_index",
            "queue_wait_s_avg",
            "labour_cost_per_visitor",
            "visitors_per_m2",
        )
    ]
    if comparison.is_empty():
        return pl.DataFrame(
            schema={
                "store_id": pl.String,
                "name": pl.String,
                "score": pl.Float64,
                "strengths": pl.String,
                "weaknesses": pl.String,
            }
        )
    n = comparison.height
    deviations: list[list[float]] = [[] for _ in range(n)]
    notes_good: list[list[tuple[float, str]]] = [[] for _ in range(n)]
    notes_bad: list[list[tuple[float, str]]] = [[] for _ in range(n)]
    for column, label, higher_better in columns:
        if column not in comparison.columns:
            continue
        values = comparison[column].cast(pl.Float64)
        median = values.median()
        if median is None:
            continue
        points = _POINTS_KPIS.get(column)
        if points is None and median == 0:
            continue
        for i, v in enumerate(values.to_list()):
            if v is None:
                continue
            rel = (v - median) / points if points else (v - median) / abs(median)
            signed = rel if higher_better else -rel
            deviations[i].append(max(-1.0, min(1.0, signed)))
            if abs(rel) >= 0.1:
                text = (
                    f"{label} {v - median:+.0f} pts vs median"
                    if points
                    else f"{label} {rel:+.0%} vs median"
                )
                if column == "satisfaction_index" and "tracks_readable" in comparison.columns:
                    text += f" (n = {int(comparison['tracks_readable'][i] or 0):,} faces)"
                (notes_good if signed > 0 else notes_bad)[i].append((abs(signed), text))

    def top(notes: list[tuple[float, str]]) -> str:
        return "; ".join(t for _, t in sorted(notes, reverse=True)[:2])

    return pl.DataFrame(
        {
            "store_id": comparison["store_id"],
            "name": comparison["name"] if "name" in comparison.columns else comparison["store_id"],
            "score": [50.0 + 50.0 * sum(d) / len(d) if d else 50.0 for d in deviations],
            "strengths": [top(x) for x in notes_good],
            "weaknesses": [top(x) for x in notes_bad],
        }
    ).sort("score", descending=True)
