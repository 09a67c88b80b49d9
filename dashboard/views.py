"""Pure polars shaping between the KPI frames of data/ and the charts (no Streamlit).

Only re-arrangements live here: KPIs are defined once in data/kpi/, and a table at a
grain of its own (zone × hour of day, zone) is made by ``kpi.summarize``, which sums the
metrics and applies those same definitions. Labels, formats and which way is better come
from ``kpi.PRESENTATION``; the store score is ``kpi.median_deviation_score``.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from typing import Any

import polars as pl
from storelens.data import kpi
from storelens.data.kpi import MIN_GROUP, PRESENTATION, headline_rows

# Headline KPIs of the Store page: key in kpi.headline(), label, format, higher-is-better.
HEADLINE = headline_rows(
    "visitors",
    "conversion",
    "sales_per_visitor",
    "satisfaction_index",
    "queue_wait_s_avg",
    "labour_cost_per_visitor",
)

# Leaderboard columns of the Compare page: column, header, higher-is-better.
LEADERBOARD = [
    (k, PRESENTATION[k].column_header, PRESENTATION[k].higher_is_better)
    for k in (
        "visitors",
        "conversion",
        "sales_per_visitor",
        "satisfaction_index",
        "queue_wait_s_avg",
        "star",
        "labour_cost_per_visitor",
        "labour_pct_of_sales",
        "median_response_min",
        "visitors_per_open_hour",
        "sales_per_open_hour",
        "visitors_per_m2",
        "sales_per_m2",
        "visitors_wow_pct",
        "conversion_wow_pct",
    )
]


# Shown right after the satisfaction column wherever it appears in a table: its 95 %
# interval and the number of readable faces it stands on (never flagged as outliers).
SATISFACTION_CONTEXT = [
    (k, PRESENTATION[k].column_header)
    for k in ("satisfaction_low", "satisfaction_high", "tracks_readable")
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
_POINTS_KPIS = {k: p.points for k, p in PRESENTATION.items() if p.points}


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


# The first number of a shown change ("+0.0%", "−3 pts", "+0 s vs 240 s target").
_SHOWN_NUMBER = re.compile(r"^\s*[+\-\u2212]?\s*€?\s*(\d[\d,]*(?:\.\d+)?)")


def delta_color(shown: str | None, higher_is_better: bool | None) -> str:
    """The arrow colour of a metric's change as ``st.metric`` takes it: "off" (grey) when
    there is no change to show or the shown change rounds to zero (a red "+0.0%" says
    "worse" about nothing), or when neither direction is better; else green for the better
    direction ("normal" when higher is better, "inverse" when lower is)."""
    if _no_change(shown) or higher_is_better is None:
        return "off"
    return "normal" if higher_is_better else "inverse"


def _no_change(shown: str | None) -> bool:
    match = _SHOWN_NUMBER.match(shown or "")
    return match is None or float(match.group(1).replace(",", "")) == 0


def delta_arrow(shown: str | None) -> str:
    """``st.metric``'s ``delta_arrow``: none for a change that rounds to zero (an up arrow
    beside "+0.0%" still says "up"), else the arrow of the change's sign."""
    return "off" if _no_change(shown) else "auto"


def metric_delta(key: str, now: Any, before: Any) -> tuple[str | None, str]:
    """The shown change of KPI ``key`` (``kpi.PRESENTATION``) now vs before and its arrow
    colour, for ``st.metric(label, value, *metric_delta(...))``."""
    delta = headline_delta(now, before, key)
    shown = None if delta is None else format_delta(key, delta)
    look = PRESENTATION.get(key)
    return shown, delta_color(shown, look.higher_is_better if look else None)


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
    """Score each store by :func:`storelens.data.kpi.median_deviation_score` (50 = a
    typical store), and say why: strengths and weaknesses name the two largest deviations
    from the median store of at least 10 %.

    ``columns``: (column, label, higher-is-better); default the score's KPIs under their
    column headers. Returns store_id, name, score, strengths, weaknesses, best first.
    """
    columns = columns or [(k, PRESENTATION[k].column_header, up) for k, up in kpi.score_kpis()]
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
    labels = {c: label for c, label, _ in columns}
    deviations = kpi.deviations_from_median(comparison, [(c, up) for c, _, up in columns])
    notes_good: list[list[tuple[float, str]]] = [[] for _ in deviations]
    notes_bad: list[list[tuple[float, str]]] = [[] for _ in deviations]
    for i, store in enumerate(deviations):
        for d in store:
            if abs(d.relative) < 0.1:
                continue
            label = labels[d.kpi]
            text = (
                f"{label} {d.value - d.median:+.0f} pts vs median"
                if d.kpi in _POINTS_KPIS
                else f"{label} {d.relative:+.0%} vs median"
            )
            if d.kpi == "satisfaction_index" and "tracks_readable" in comparison.columns:
                text += f" (n = {int(comparison['tracks_readable'][i] or 0):,} faces)"
            (notes_good if d.signed > 0 else notes_bad)[i].append((abs(d.signed), text))

    def top(notes: list[tuple[float, str]]) -> str:
        return "; ".join(t for _, t in sorted(notes, reverse=True)[:2])

    return pl.DataFrame(
        {
            "store_id": comparison["store_id"],
            "name": comparison["name"] if "name" in comparison.columns else comparison["store_id"],
            "score": [kpi.median_deviation_score(d) for d in deviations],
            "strengths": [top(x) for x in notes_good],
            "weaknesses": [top(x) for x in notes_bad],
        }
    ).sort("score", descending=True)
