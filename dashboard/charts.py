"""Charts: pure functions from polars frames to plotly figures (no Streamlit, no SQL)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

PALETTE = {"satisfied": "#2da44e", "neutral": "#8c959f", "frustrated": "#cf222e", "unknown": "#d0d7de"}


def _layout(fig: go.Figure, title: str, y_title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        margin={"l": 40, "r": 10, "t": 40, "b": 30},
        height=300,
        yaxis_title=y_title,
        xaxis_title=None,
        showlegend=len(fig.data) > 1,
    )
    return fig


def people_per_minute(df: pl.DataFrame, title: str = "People per minute") -> go.Figure:
    """``df``: columns minute (datetime) and people (int), one row per minute."""
    fig = go.Figure()
    if df.height:
        fig.add_bar(x=df["minute"].to_list(), y=df["people"].to_list(), name="people", marker_color="#1f6feb")
    return _layout(fig, title, "distinct people")
