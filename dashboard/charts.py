"""Charts: pure functions from polars frames to plotly figures (no Streamlit, no SQL).

Every function takes the frame's documented columns and returns a figure; an empty frame
gives an empty figure with the same title, never an error.
"""

from __future__ import annotations

import base64
import itertools
from datetime import datetime
from typing import Any

import plotly.colors
import plotly.graph_objects as go
import polars as pl

PALETTE = {
    "satisfied": "#2da44e",
    "neutral": "#8c959f",
    "frustrated": "#cf222e",
    "unknown": "#d0d7de",
}
BLUE, ORANGE, GREEN, RED, GREY = "#1f6feb", "#fb8500", "#2da44e", "#cf222e", "#8c959f"


def _figure(
    traces: list[dict[str, Any]],
    title: str,
    y_title: str | None,
    height: int = 300,
    **layout: Any,
) -> go.Figure:
    """The figure in one constructor call. Plotly validates a whole figure given at once
    about 5-10x faster than piece by piece: ``update_layout`` alone cost ~8 ms a chart
    here (20-30 ms under load), ``go.Figure(layout=...)`` ~1 ms. ``layout`` entries that
    are dicts (``xaxis``, ``yaxis``...) extend the defaults instead of replacing them."""
    base: dict[str, Any] = {
        "title": {"text": title},
        "margin": {"l": 40, "r": 10, "t": 40, "b": 30},
        "height": height,
        "xaxis": {"title": {"text": None}},
        "yaxis": {"title": {"text": y_title}},
        "showlegend": len(traces) > 1,
        "legend": {"orientation": "h", "y": -0.2},
    }
    for key, value in layout.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    return go.Figure(data=traces, layout=base)


def _values(series: pl.Series, digits: int = 4) -> list:
    """A numeric column as a list for the browser, rounded to ``digits`` significant
    digits: a float64 printed in full is up to 18 characters of JSON for a bar height
    nobody reads beyond the third digit. Nulls stay None (gaps)."""
    if series.dtype.is_float():
        series = series.round_sig_figs(digits)
    return series.to_list()


def _bar(x: list, y: list, name: str, colour: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "bar", "x": x, "y": y, "name": name, "marker": {"color": colour}, **extra}


def _line(
    x: list, y: list, name: str, colour: str, mode: str = "lines+markers", **extra: Any
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "x": x,
        "y": y,
        "name": name,
        "mode": mode,
        "line": {"color": colour},
        **extra,
    }


def _with_gaps(x: list, *series: list) -> tuple[list, ...]:
    """Insert None where the spacing of ``x`` jumps (closed hours, missing days), so lines
    break instead of joining across the night."""
    if len(x) < 3:
        return (x, *series)
    steps = sorted(b - a for a, b in itertools.pairwise(x))
    limit = steps[len(steps) // 2] * 1.5
    out_x: list = [x[0]]
    out_series: list[list] = [[s[0]] for s in series]
    for i in range(1, len(x)):
        if x[i] - x[i - 1] > limit:
            out_x.append(x[i - 1] + (x[i] - x[i - 1]) / 2)
            for col in out_series:
                col.append(None)
        out_x.append(x[i])
        for col, s in zip(out_series, series, strict=True):
            col.append(s[i])
    return (out_x, *out_series)


def people_per_minute(df: pl.DataFrame, title: str = "People per minute") -> go.Figure:
    """``df``: columns minute (datetime) and people (int), one row per minute."""
    traces = [_bar(df["minute"].to_list(), _values(df["people"]), "people", BLUE)]
    return _figure(traces if df.height else [], title, "distinct people")


def visitors_transactions(df: pl.DataFrame, title: str = "Visitors and transactions") -> go.Figure:
    """``df``: bucket, visitors, transactions."""
    x = df["bucket"].to_list()
    traces = [
        _bar(x, _values(df["visitors"]), "visitors", BLUE),
        _line(x, _values(df["transactions"]), "transactions", ORANGE),
    ]
    return _figure(traces if df.height else [], title, "count")


def conversion(df: pl.DataFrame, title: str = "Conversion") -> go.Figure:
    """``df``: bucket, conversion (0..1, null where no visitors)."""
    x, y = _with_gaps(df["bucket"].to_list(), _values(df["conversion"]))
    traces = [_line(x, y, "conversion", GREEN, connectgaps=False)] if df.height else []
    return _figure(traces, title, "transactions / visitors", yaxis={"tickformat": ".0%"})


def satisfaction_heatmap(
    df: pl.DataFrame, title: str = "Satisfaction by zone and hour"
) -> go.Figure:
    """``df``: zone, hour (0–23), satisfaction_index (null = below the minimum group:
    drawn as a blank cell, never as a number), tracks_readable, satisfaction_low/high
    (the 95 % interval, shown on hover with the number of faces)."""
    traces = []
    if df.height:
        wide = df.pivot(on="hour", index="zone", values="satisfaction_index", sort_columns=True)
        hours = [c for c in wide.columns if c != "zone"]
        zones = wide["zone"].to_list()
        context = {
            (r["zone"], r["hour"]): r
            for r in df.select(
                "zone", "hour", "tracks_readable", "satisfaction_low", "satisfaction_high"
            ).iter_rows(named=True)
        }

        def cell(zone: str, hour: str) -> list:
            r = context.get((zone, int(hour)), {})
            return [
                r.get("tracks_readable") or 0,
                r.get("satisfaction_low"),
                r.get("satisfaction_high"),
            ]

        traces.append(
            {
                "type": "heatmap",
                "x": [f"{int(h):02d}:00" for h in hours],
                "y": zones,
                "z": [list(r) for r in wide.select(hours).rows()],  # None = hidden cell
                "customdata": [[cell(z, h) for h in hours] for z in zones],
                "hovertemplate": (
                    "%{y} %{x}<br>index %{z:+.0f} (95 % CI %{customdata[1]:+.0f}…"
                    "%{customdata[2]:+.0f})<br>%{customdata[0]} faces<extra></extra>"
                ),
                "zmin": -100,
                "zmax": 100,
                "colorscale": "RdYlGn",
                "hoverongaps": False,
                "colorbar": {"title": {"text": "index"}},
            }
        )
    return _figure(traces, title, None)


def queue(df: pl.DataFrame, title: str = "Checkout queue") -> go.Figure:
    """``df``: bucket, queue_length_avg, wait_s (seconds)."""
    if not df.height:
        return _figure([], title, "people")
    x = df["bucket"].to_list()
    gx, wait = _with_gaps(x, _values(df["wait_s"] / 60.0))
    traces = [
        _bar(x, _values(df["queue_length_avg"]), "mean length (people)", GREY),
        _line(gx, wait, "wait (min)", RED, yaxis="y2"),
    ]
    return _figure(
        traces,
        title,
        "people",
        yaxis={"rangemode": "tozero"},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": {"text": "wait (min)"},
            "rangemode": "tozero",
            # Own round ticks (0.5, 1, 1.5 min), not ticks synced to the people axis
            # (0.543 / 1.086 min); no second grid on top of the first.
            "tickmode": "auto",
            "showgrid": False,
        },
    )


def dwell_by_zone(df: pl.DataFrame, title: str = "Dwell by zone") -> go.Figure:
    """``df``: zone, avg_dwell_s, dwell_visits."""
    traces = []
    if df.height:
        traces.append(
            {
                "type": "bar",
                "y": df["zone"].to_list(),
                "x": _values(df["avg_dwell_s"]),
                "orientation": "h",
                "marker": {"color": BLUE},
                "text": [f"{v} visits" for v in df["dwell_visits"].to_list()],
                "name": "mean dwell",
            }
        )
    return _figure(traces, title, None, xaxis={"title": {"text": "mean dwell (s)"}})


def position_heatmap(
    df: pl.DataFrame,
    x_bins: int,
    y_bins: int,
    title: str = "Where people stand",
    still: bytes | None = None,
) -> go.Figure:
    """``df``: x_bin, y_bin (cells of an ``x_bins`` × ``y_bins`` grid over one camera's frame,
    row 0 at the top), people. With ``still`` (a JPEG of the camera) the cells lie over the
    picture, so a manager sees *where* in the shop; empty cells stay see-through."""
    grid: list[list[int | None]] = [[0] * x_bins for _ in range(y_bins)]
    for x, y, people in df.select("x_bin", "y_bin", "people").iter_rows():
        if 0 <= x < x_bins and 0 <= y < y_bins:
            grid[y][x] = (grid[y][x] or 0) + people
    if not df.height:
        return _figure([], title, None)
    images = []
    if still:
        images.append(
            {
                "source": "data:image/jpeg;base64," + base64.b64encode(still).decode(),
                "x": -0.5,
                "y": -0.5,
                "sizex": x_bins,
                "sizey": y_bins,
                "xref": "x",
                "yref": "y",
                "sizing": "stretch",
                "layer": "below",
            }
        )
        grid = [[v or None for v in row] for row in grid]  # no colour where nobody stood
    heatmap = {
        "type": "heatmap",
        "z": grid,
        "colorscale": "YlOrRd",
        "colorbar": {"title": {"text": "people"}},
        "opacity": 0.65 if still else 1.0,
        "hovertemplate": "%{z} people<extra></extra>",
    }
    # Axes in words: the grid is the camera's frame, not a floor plan.
    return _figure(
        [heatmap],
        title,
        None,
        images=images,
        xaxis={
            "tickvals": [0, (x_bins - 1) / 2, x_bins - 1],
            "ticktext": ["left", "centre", "right"],
            "range": [-0.5, x_bins - 0.5],
            "showgrid": False,
            "title": {"text": "camera view"},
        },
        yaxis={
            "tickvals": [0, (y_bins - 1) / 2, y_bins - 1],
            "ticktext": ["back", "middle", "front"],
            "range": [y_bins - 0.5, -0.5],  # row 0 (the top of the picture) at the top
            "showgrid": False,
        },
    )


# Plotly's default palette has 10 colours: with 12 stores two pairs of lines looked alike.
TREND_COLOURS = [
    *plotly.colors.qualitative.Dark24,
    *plotly.colors.qualitative.Light24,
]


CONTEXT_GREY = "#d0d7de"


def kpi_trend(
    df: pl.DataFrame,
    kpi: str,
    label: str,
    title: str | None = None,
    names: dict[str, str] | None = None,
    columns: int = 4,
) -> go.Figure:
    """``df``: store_id, bucket and the column ``kpi``. Small multiples: one panel per
    store, titled with its name (``names``: store id -> name), its line in its own colour
    over a light-grey band from the lowest to the highest store of each bucket, all panels
    on one y scale.

    Twelve coloured lines in one chart could not be told apart (issue 19, item 10); in a
    panel each store is the one dark line, and the band shows where it sits in the pack.
    A band, not every other store's line: 12 panels × 11 grey lines were 13,000 points and
    ~1 s of the browser's main thread (issue 21, benchmarks/profile_pages.py); the band is
    two short lines per panel whatever the number of stores."""
    names = names or {}
    ordered = df.sort("bucket")
    stores = list(dict.fromkeys(ordered["store_id"].to_list()))
    series = {
        store: (part["bucket"].to_list(), _values(part[kpi]))
        for (store,), part in ordered.group_by("store_id", maintain_order=True)
    }
    y_format = {"tickformat": ".0%"} if kpi == "conversion" else {}
    hover = ".1%" if kpi == "conversion" else ",.4~g"  # 1,234 visitors; €12.35
    if len(stores) <= 1:  # one store: one plain line
        traces = [
            _line(*series[s], names.get(s, str(s)), TREND_COLOURS[0], mode="lines") for s in stores
        ]
        return _figure(traces, title or f"{label} by store", label, yaxis=y_format)
    pack = (
        ordered.group_by("bucket", maintain_order=True)
        .agg(pl.col(kpi).min().alias("low"), pl.col(kpi).max().alias("high"))
        .sort("bucket")
    )
    band_x = pack["bucket"].to_list()
    band = {edge: _values(pack[edge]) for edge in ("low", "high")}
    cols = min(columns, len(stores))
    rows = -(-len(stores) // cols)
    traces: list[dict[str, Any]] = []
    layout: dict[str, Any] = {}
    annotations = []
    for k, store in enumerate(stores):
        r, c = divmod(k, cols)
        suffix = "" if k == 0 else str(k + 1)
        xa, ya = f"x{suffix}", f"y{suffix}"
        name = names.get(store, str(store))
        for edge, fill in (("low", None), ("high", "tonexty")):
            traces.append(
                {
                    "type": "scatter",
                    "x": band_x,
                    "y": band[edge],
                    "mode": "lines",
                    "line": {"color": CONTEXT_GREY, "width": 0.5},
                    "fill": fill,
                    "fillcolor": CONTEXT_GREY,
                    "hoverinfo": "skip",
                    "showlegend": False,
                    "xaxis": xa,
                    "yaxis": ya,
                }
            )
        traces.append(
            _line(
                *series[store],
                name,
                TREND_COLOURS[k % len(TREND_COLOURS)],
                mode="lines",
                xaxis=xa,
                yaxis=ya,
                showlegend=False,
                hovertemplate=f"%{{x|%a %d %b}}: %{{y:{hover}}}<extra>{name}</extra>",
            )
        )
        gap_x, top_gap, bottom_gap = 0.02, 0.09 / rows * 2, 0.03
        x0, x1 = c / cols + gap_x, (c + 1) / cols - gap_x
        y1, y0 = 1 - r / rows - top_gap, 1 - (r + 1) / rows + bottom_gap
        layout[f"xaxis{suffix}"] = {
            "domain": [x0, x1],
            "anchor": ya,
            "showticklabels": r == rows - 1 or k + cols >= len(stores),
            "nticks": 4,
            **({} if k == 0 else {"matches": "x"}),
        }
        layout[f"yaxis{suffix}"] = {
            "domain": [y0, y1],
            "anchor": xa,
            "showticklabels": c == 0,
            "rangemode": "tozero",
            **y_format,
            **({} if k == 0 else {"matches": "y"}),
        }
        annotations.append(
            {
                "text": f"<b>{name}</b>",
                "x": (x0 + x1) / 2,
                "y": y1,
                "xref": "paper",
                "yref": "paper",
                "xanchor": "center",
                "yanchor": "bottom",
                "showarrow": False,
                "font": {"size": 13},
            }
        )
    return go.Figure(
        data=traces,
        layout={
            **layout,
            "title": {"text": title or f"{label} by store"},
            "height": 80 + 170 * rows,
            "margin": {"l": 50, "r": 10, "t": 60, "b": 30},
            "showlegend": False,
            "annotations": annotations,
            "hovermode": "closest",
        },
    )


def leaderboard_bars(
    df: pl.DataFrame, kpi: str, label: str, flagged: set[str] | None = None
) -> go.Figure:
    """``df``: store_id and ``kpi``; outlier stores (``flagged``) drawn in red."""
    flagged = flagged or set()
    ordered = df.drop_nulls(kpi).sort(kpi, descending=True)
    stores = ordered["store_id"].to_list()
    colours = [RED if s in flagged else BLUE for s in stores]
    # Bars say store names where the frame has them (ids only as a fallback).
    shown = (
        [n or s for n, s in zip(ordered["name"].to_list(), stores, strict=True)]
        if "name" in ordered.columns
        else stores
    )
    traces = [_bar(shown, _values(ordered[kpi]), label, colours)] if ordered.height else []
    # Only say what red means when a red bar is there.
    note = " (red: outlier)" if flagged & set(stores) else ""
    return _figure(traces, f"{label} by store{note}", label)


def staffing(df: pl.DataFrame, title: str = "Scheduled vs recommended staff") -> go.Figure:
    """``df``: bucket, scheduled_staff, recommended_staff, status (over / under / ok)."""
    if not df.height:
        return _figure([], title, "staff")
    x = df["bucket"].to_list()
    # One bar trace per status, so the legend explains every colour (one trace with
    # per-bar colours showed a single "scheduled" entry for three colours).
    statuses = df["status"].to_list()
    scheduled = _values(df["scheduled_staff"])
    traces = [
        _bar(
            x,
            [v if s == status else None for v, s in zip(scheduled, statuses, strict=True)],
            name,
            colour,
        )
        for status, name, colour in (
            ("ok", "scheduled: as recommended", GREY),
            ("over", "scheduled: over-staffed", ORANGE),
            ("under", "scheduled: under-staffed", RED),
        )
    ]
    gx, recommended = _with_gaps(x, _values(df["recommended_staff"]))
    traces.append(
        _line(
            gx, recommended, "recommended", BLUE, mode="lines", line={"color": BLUE, "shape": "hv"}
        )
    )
    return _figure(traces, title, "staff", barmode="overlay")


def frame_overlay(
    jpeg: bytes | None,
    width: int,
    height: int,
    lines: list[dict],
    zones: list[dict],
    title: str = "Lines and zones",
    draft: list[list[float]] | None = None,
    click_step: int | None = None,
) -> go.Figure:
    """A still frame (if any) with the camera's lines and zone polygons drawn on top, in
    frame pixels (``lines``: name/start/end; ``zones``: name/polygon).

    For drawing (Setup): ``draft`` are the points clicked so far (joined in click order),
    and ``click_step`` lays an invisible grid of points every that many pixels over the
    frame. Plotly reports clicks on data points only, never on an empty plot or a layout
    image, so the grid is what turns a click anywhere on the still into an (x, y) in frame
    pixels; the shapes themselves let clicks through (``hoverinfo: skip``)."""
    images = []
    if jpeg:
        images.append(
            {
                "source": "data:image/jpeg;base64," + base64.b64encode(jpeg).decode(),
                "x": 0,
                "y": 0,
                "sizex": width,
                "sizey": height,
                "xref": "x",
                "yref": "y",
                "layer": "below",
                "sizing": "stretch",
            }
        )
    skip = {"hoverinfo": "skip"} if click_step else {}
    traces: list[dict[str, Any]] = []
    for zone in zones:
        pts = [*zone["polygon"], zone["polygon"][0]]
        traces.append(
            {
                "type": "scatter",
                "x": [p[0] for p in pts],
                "y": [p[1] for p in pts],
                "fill": "toself",
                "name": f"zone {zone['name']}",
                "mode": "lines",
                "opacity": 0.5,
                **skip,
            }
        )
    for line in lines:
        traces.append(
            {
                "type": "scatter",
                "x": [line["start"][0], line["end"][0]],
                "y": [line["start"][1], line["end"][1]],
                "name": f"line {line['name']}",
                "mode": "lines+markers",
                "line": {"width": 4, "color": ORANGE},
                **skip,
            }
        )
    if draft:
        traces.append(
            {
                "type": "scatter",
                "x": [p[0] for p in draft],
                "y": [p[1] for p in draft],
                "name": "new shape (clicked points)",
                "mode": "lines+markers+text",
                "text": [str(i + 1) for i in range(len(draft))],
                "textposition": "top center",
                "textfont": {"size": 14, "color": RED},
                "marker": {"size": 11, "color": RED, "line": {"width": 2, "color": "white"}},
                "line": {"width": 3, "color": RED, "dash": "dot"},
                **skip,
            }
        )
    if click_step:
        xs = list(range(0, width + 1, click_step))
        ys = list(range(0, height + 1, click_step))
        traces.append(
            {
                "type": "scatter",
                "x": [x for _ in ys for x in xs],
                "y": [y for y in ys for _ in xs],
                "mode": "markers",
                "marker": {"size": click_step, "opacity": 0},
                "name": "click grid",
                "showlegend": False,
                "hovertemplate": "x %{x}, y %{y}<extra>click to add a point</extra>",
                # Selected and unselected look alike: the grid stays invisible after a click.
                "selected": {"marker": {"opacity": 0}},
                "unselected": {"marker": {"opacity": 0}},
            }
        )
    return _figure(
        traces,
        title,
        None,
        height=480 if click_step else 420,
        images=images,
        showlegend=bool(lines or zones or draft),
        hovermode="closest",
        xaxis={"range": [0, width], "showgrid": False, "zeroline": False},
        yaxis={"range": [height, 0], "showgrid": False, "zeroline": False, "scaleanchor": "x"},
    )


def mark_partial(fig: go.Figure, start: datetime, end: datetime) -> go.Figure:
    """Shade [start, end) (today, not over yet) and say so, so a dip there reads as
    'so far', not as a collapse."""
    fig.add_vrect(
        x0=start,
        x1=end,
        fillcolor="rgba(128,128,128,0.15)",
        line_width=0,
        annotation_text="today: partial",
        annotation_position="top left",
        annotation_font_size=11,
    )
    return fig
