"""What the Summary page leads with (issue 22): change against the previous period and the
€ impact with its assumptions, and the weekly report download (the same file as
``storelens report weekly``)."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import streamlit as st
from storelens.dashboard import views
from storelens.dashboard.formatting import metric_value, table
from storelens.dashboard.session import PageContext, data_errors
from storelens.data import impact, kpi, report
from storelens.data.lake_reader import LakeReader
from storelens.data.reader import remembered
from storelens.kernel.errors import StoreLensError


def _money(value: float) -> str:
    """€ short enough for a metric in a row of six (€2.31 M, €840 k, €9,120)."""
    if abs(value) >= 1e6:
        return f"€{value / 1e6:,.2f} M"
    return f"€{value / 1e3:,.0f} k" if abs(value) >= 1e5 else f"€{value:,.0f}"


LEAD = [
    ("visitors", "Visitors", "{:,.0f}"),
    ("sales", "Sales", _money),
    ("conversion", "Conversion", "{:.1%}"),
    ("satisfaction_index", "Satisfaction index", "{:+.0f}"),
    ("queue_wait_s_avg", "Avg queue wait", "{:.0f} s"),
]


def lead(ctx: PageContext, period: kpi.KpiFilter, min_group: int, stores: int) -> None:
    """Headline KPIs with their change vs the previous period of the same length, then the
    € figures (sales lost to queues, staffing over / under plan) and their assumptions."""
    before = impact.previous_period(period)
    a = impact.ImpactAssumptions()
    with data_errors():
        now_m = remembered(
            ctx.reader,
            "summary metrics",
            (period, ctx.scope),
            lambda: kpi.metrics(ctx.reader, period, ctx.scope),
        )
        before_m = remembered(
            ctx.reader,
            "summary metrics",
            (before, ctx.scope),
            lambda: kpi.metrics(ctx.reader, before, ctx.scope),
        )
        store_impact = remembered(
            ctx.reader,
            "store_impact",
            (period, ctx.scope, a),
            lambda: impact.store_impact(ctx.reader, period, ctx.scope, a),
        )
    now, prev = kpi.totals(now_m, min_group), kpi.totals(before_m, min_group)
    st.caption(
        f"Change vs the previous {(period.end - period.start).days + 1} days "
        f"({before.start} – {before.end})."
    )
    first, *columns = st.columns(len(LEAD) + 1)
    first.metric("Stores", stores)
    for column, (key, label, fmt) in zip(columns, LEAD, strict=True):
        value = now.get(key)
        shown, color = views.metric_delta(key, value, prev.get(key))
        # Grey when the change rounds to zero; else green for the KPI's better direction.
        column.metric(
            label,
            metric_value(value, fmt),
            shown,
            delta_color=color,
            delta_arrow=views.delta_arrow(shown),
        )
    t = impact.impact_totals(store_impact)
    x, y, z = st.columns(3)
    x.metric(
        "Sales lost to queues",
        metric_value(t["lost_sales"], "€{:,.0f}"),
        help=f"{t['stores_valued']} of {t['stores']} stores have enough slow hours to value",
    )
    y.metric("Staff cost over plan", metric_value(t["staff_cost_over"], "€{:,.0f}"))
    z.metric("Cost to close staffing gaps", metric_value(t["staff_cost_under"], "€{:,.0f}"))
    with st.expander("€ impact: assumptions and per store"):
        for line in impact.assumptions_text(a):
            st.markdown(f"- {line}")
        table(
            st,
            store_impact.with_columns(
                pl.col("store_id").replace(ctx.store_names()).alias("store")
            ).select(
                "store",
                "hours_over",
                "hours_under",
                "conversion_over",
                "conversion_under",
                "avg_basket",
                "lost_sales",
                "staff_cost_over",
                "staff_cost_under",
                "note",
            ),
            key="impact_table",
            column_config={
                "conversion_over": st.column_config.NumberColumn(
                    "Conv. slow hours", format="percent"
                ),
                "conversion_under": st.column_config.NumberColumn(
                    "Conv. calm hours", format="percent"
                ),
                # € with thousands separators ("€12,340"), missing drawn "—"
                "lost_sales": st.column_config.NumberColumn("Lost sales", format="euro"),
                "staff_cost_over": st.column_config.NumberColumn("Over plan", format="euro"),
                "staff_cost_under": st.column_config.NumberColumn("Gap", format="euro"),
                "avg_basket": st.column_config.NumberColumn("Basket", format="euro"),
                "store": "Store",
                # hours_over / hours_under are the queue's slow and calm hours (data.impact)
                "hours_over": "Slow hours (wait over target)",
                "hours_under": "Calm hours",
            },
        )


def _weeks(last_day: date, n: int = 8) -> list[str]:
    """The last ``n`` complete ISO weeks up to ``last_day``, newest first."""
    sunday = last_day - timedelta(days=(last_day.weekday() + 1) % 7)
    return [report.week_label(sunday - timedelta(weeks=i)) for i in range(n)]


def report_download(ctx: PageContext, regions: list[str], last_day: date, min_group: int) -> None:
    """The weekly report of a region the user may see, as ``storelens report weekly``
    writes it; drawn when the button is clicked (charts take a few seconds)."""
    from storelens.dashboard.report_weekly import render

    st.markdown("**Weekly report**")  # bold, not a heading: the sidebar is not the story
    if not regions:
        st.info("No region in your scope.")
        return
    region = st.selectbox("Region", regions, key="report_region")
    week = st.selectbox("Week", _weeks(last_day), key="report_week")
    fmt = st.segmented_control("Format", ["pdf", "html"], default="pdf", key="report_fmt") or "pdf"
    try:
        report.check_week(ctx.reader, region, week, ctx.scope)
    except StoreLensError as exc:  # as the CLI would print it: the value and the fix
        st.warning(str(exc))
        return
    reader, scope = ctx.reader, ctx.scope
    lake = isinstance(reader, LakeReader)  # no raw camera rows there: no health section

    def build() -> bytes:  # runs on the click: the charts take a few seconds
        try:
            facts = report.weekly_facts(
                reader, region, week, scope, min_group, camera_health=not lake
            )
            return render(facts, fmt)
        except StoreLensError as exc:  # the page cannot speak from here: say it in the file
            return f"StoreLens weekly report could not be made: {exc}\n".encode()

    st.download_button(
        f"Download weekly report ({fmt.upper()})",
        build,
        file_name=f"storelens-{region}-{week}.{fmt}",
        mime="application/pdf" if fmt == "pdf" else "text/html",
        key="report_download",
        icon=":material/download:",
    )
    st.caption(
        f"Same file as `storelens report weekly --region {region} --week {week} --out FILE.{fmt}`."
    )


def regions_of(comparison: pl.DataFrame) -> list[str]:
    if "region" not in comparison.columns:
        return []
    return sorted(r for r in comparison["region"].unique().to_list() if r)
