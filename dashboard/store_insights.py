"""What the Store page shows for issue 22: the shopper funnel (items 3), camera data health
over the period (item 6), and the hours without camera data that its KPI charts mark
instead of drawing as zero."""

from __future__ import annotations

from datetime import date, datetime

import plotly.graph_objects as go
import polars as pl
import streamlit as st
from storelens.dashboard import insight_charts
from storelens.dashboard.formatting import table
from storelens.dashboard.session import PageContext, data_errors
from storelens.data import funnel, health, kpi


def camera_hours(ctx: PageContext, store: str, start: date, end: date) -> pl.DataFrame:
    """Every camera × ended opening hour of the period (data.health), scoped."""
    with data_errors():
        return health.camera_hours(ctx.reader, kpi.KpiFilter(start, end, (store,)), ctx.scope)


def with_gaps(metrics: pl.DataFrame, missing: list[datetime], granularity: str) -> pl.DataFrame:
    """Hour buckets without camera data get null camera columns (a gap, not 0 visitors);
    day and week buckets keep their sums and are marked on the chart instead."""
    return health.null_missing(metrics, missing) if granularity == "hour" else metrics


def mark(fig: go.Figure, missing: list[datetime], granularity: str) -> go.Figure:
    return insight_charts.mark_missing(fig, missing, granularity)


def store_label(r: dict) -> str:
    """One line for a store's health over the period (data.health.store_summary row)."""
    fps = "—" if r["analysed_fps"] is None else f"{r['analysed_fps']:.1f}"
    return (
        f"Store: {r['cameras']} camera(s), uptime {r['uptime']:.1%}, analysed fps {fps}, "
        f"{r['hours_missing']} opening hour(s) with no camera data in {r['gaps']} gap(s)"
        + (f", the longest {r['longest_gap_h']} h" if r["gaps"] else "")
    )


def funnel_and_health(
    ctx: PageContext, store: str, start: date, end: date, hours: pl.DataFrame
) -> None:
    """The period's funnel (chart, and per day with drop-off) and its camera data health."""
    flt = kpi.KpiFilter(start, end, (store,), "day")
    with data_errors():
        days = funnel.store_day_funnel(ctx.reader, flt, ctx.scope)
    period = funnel.period_funnel(days)
    left, right = st.columns(2)
    row = period.row(0, named=True) if period.height else {}
    left.plotly_chart(
        insight_charts.funnel(funnel.steps_long(row), f"Shopper funnel, {start} – {end}"),
        width="stretch",
    )
    left.caption(
        "Traffic: shoppers entering; zone visits: visits of 5 s or more to any zone (a shopper "
        "browsing two zones counts twice, so this step can exceed traffic); queue joins; "
        "transactions (POS). Drop-off = share lost from the step before."
    )
    table(
        right,
        days.drop("store_id").rename({"bucket": "day"}),
        hide_index=True,
        key="funnel_days",
        column_config={
            "day": st.column_config.DateColumn("Day"),
            **{
                c: st.column_config.NumberColumn(label, format="%d") for c, _, label in funnel.STEPS
            },
            **{
                f"drop_{c}": st.column_config.NumberColumn(
                    f"Drop to {label.lower()}", format="percent"
                )
                for c, _, label in funnel.STEPS[1:]
            },
            "overall": st.column_config.NumberColumn("Traffic → transaction", format="percent"),
        },
    )

    st.subheader("Data health")
    store = health.store_summary(hours)
    if store.height:
        r = store.row(0, named=True)
        st.markdown(f"**{store_label(r)}**")
    cameras = health.camera_summary(hours)
    gaps = health.blackout_gaps(hours, per="camera")
    left, right = st.columns(2)
    left.plotly_chart(
        insight_charts.uptime_bars(
            cameras.rename({"store_id": "_store", "camera_id": "store_id"}), "Camera uptime"
        ),
        width="stretch",
    )
    table(
        right,
        cameras.drop("store_id"),
        hide_index=True,
        key="health_cameras",
        column_config={
            "uptime": st.column_config.NumberColumn("Uptime", format="percent"),
            "analysed_fps": st.column_config.NumberColumn("Analysed fps", format="%.1f"),
            "hours_missing": st.column_config.NumberColumn("Hours with no data"),
            "longest_gap_h": st.column_config.NumberColumn("Longest gap (h)"),
        },
    )
    if gaps.height:
        right.caption(f"{gaps.height} blackout gap(s):")
        table(right, gaps.drop("store_id"), key="health_gaps")
    st.caption(health.UPTIME_CAPTION)
