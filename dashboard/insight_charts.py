"""Charts of issue 22 (funnel, € impact, data health, the drill-down hour, the weekly
report): pure functions from polars frames to plotly figures, like :mod:`charts`.

Every function takes the frame's documented columns and returns a figure; an empty frame
gives an empty figure with the same title, never an error.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import plotly.graph_objects as go
import polars as pl
from storelens.dashboard.charts import BLUE, GREEN, GREY, ORANGE, RED, TREND_COLOURS, _figure

MISSING_FILL = "rgba(207,34,46,0.10)"


def funnel(steps: pl.DataFrame, title: str = "Shopper funnel") -> go.Figure:
    """``steps``: step, count, share_of_traffic, drop (:func:`data.funnel.steps_long`)."""
    if steps.is_empty() or steps["count"].is_null().all():
        return _figure([], title, None)
    text = []
    for share, drop in zip(steps["share_of_traffic"], steps["drop"], strict=True):
        part = "" if share is None else f"{share:.0%} of traffic"
        if drop is not None and abs(drop) >= 0.005:  # the drop-off from the step before
            part += f" ({-drop:+.0%})"
        text.append(part)
    trace = {
        "type": "funnel",
        "y": steps["step"].to_list(),
        "x": steps["count"].to_list(),
        "text": text,
        "textinfo": "value+text",
        "textposition": "inside",
        "marker": {"color": [BLUE, GREEN, ORANGE, RED][: steps.height]},
    }
    return _figure([trace], title, None, margin={"l": 110})


def impact_bars(frame: pl.DataFrame, title: str = "€ impact per store") -> go.Figure:
    """``frame``: store_id, lost_sales, staff_cost_over, staff_cost_under
    (:func:`data.impact.store_impact`); nulls are drawn as nothing."""
    if frame.is_empty():
        return _figure([], title, "€")
    x = frame["store_id"].to_list()
    traces = [
        {
            "type": "bar",
            "x": x,
            "y": frame["lost_sales"].to_list(),
            "name": "sales lost to queues",
            "marker": {"color": RED},
        },
        {
            "type": "bar",
            "x": x,
            "y": frame["staff_cost_over"].to_list(),
            "name": "staff cost over plan",
            "marker": {"color": ORANGE},
        },
        {
            "type": "bar",
            "x": x,
            "y": frame["staff_cost_under"].to_list(),
            "name": "cost to close staff gaps",
            "marker": {"color": GREY},
        },
    ]
    return _figure(traces, title, "€", barmode="group")


def uptime_bars(summary: pl.DataFrame, title: str = "Camera uptime") -> go.Figure:
    """``summary``: store_id, uptime (0..1), hours_missing (:func:`data.health.store_summary`)."""
    if summary.is_empty():
        return _figure([], title, None)
    colours = [RED if (m or 0) > 0 else GREEN for m in summary["hours_missing"].to_list()]
    trace = {
        "type": "bar",
        "x": summary["store_id"].to_list(),
        "y": summary["uptime"].to_list(),
        "marker": {"color": colours},
        "text": [f"{m} h missing" if m else "" for m in summary["hours_missing"].to_list()],
        "name": "uptime",
    }
    return _figure([trace], title, None, yaxis={"tickformat": ".0%", "range": [0, 1.05]})


def daily_sales(daily: pl.DataFrame, title: str = "Sales per day") -> go.Figure:
    """``daily``: store_id, bucket, sales; one line per store."""
    if daily.is_empty():
        return _figure([], title, "€")
    traces = []
    for i, (store, part) in enumerate(
        daily.sort("bucket").group_by("store_id", maintain_order=True)
    ):
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": part["bucket"].to_list(),
                "y": part["sales"].to_list(),
                "name": str(store[0]),
                "line": {"color": TREND_COLOURS[i % len(TREND_COLOURS)]},
            }
        )
    return _figure(traces, title, "€")


def mark_missing(fig: go.Figure, hours: list[datetime], granularity: str = "hour") -> go.Figure:
    """Shade the buckets that hold hours without camera data and say so, so a gap reads as
    'no data', not as an empty shop. Consecutive hours become one band."""
    if not hours:
        return fig
    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}[
        granularity
    ]
    if granularity == "hour":
        buckets = sorted(set(hours))
    elif granularity == "day":
        buckets = sorted({datetime.combine(h.date(), datetime.min.time()) for h in hours})
    else:
        buckets = sorted(
            {
                datetime.combine(h.date() - timedelta(days=h.weekday()), datetime.min.time())
                for h in hours
            }
        )
    runs: list[list[datetime]] = []
    for b in buckets:
        if runs and b - runs[-1][1] == step:
            runs[-1][1] = b
        else:
            runs.append([b, b])
    half = step / 2
    for i, (first, last) in enumerate(runs):
        fig.add_vrect(
            x0=first - half,
            x1=last + half,
            fillcolor=MISSING_FILL,
            line_width=0,
            # An hour bucket is all gap; a day or week bucket holds some hours without data.
            annotation_text=(
                None
                if i
                else ("no camera data" if granularity == "hour" else "hours without camera data")
            ),
            annotation_position="top left",
            annotation_font_size=11,
        )
    return fig
