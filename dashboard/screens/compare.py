"""Compare stores: a sortable leaderboard of every KPI per store (per opening hour and per
m², week over week), outliers flagged, trends, and an export of exactly what is shown."""

import io

import polars as pl
import streamlit as st
from storelens.dashboard import charts, drill_links, views
from storelens.dashboard.chain import chain_page_context, mask_unpublished, show_freshness
from storelens.dashboard.compare_top import TOP_N, TREND_N, chart_rows, trend_stores
from storelens.dashboard.filters import PARTIAL_NOTE, filter_bar, includes_today
from storelens.dashboard.formatting import table as show_table
from storelens.dashboard.session import data_errors
from storelens.dashboard.settings import min_group_size
from storelens.data import alert_response, kpi
from storelens.data.reader import remembered

ctx = chain_page_context()  # chain mode: every store from the lake, same scoping
min_group = min_group_size()  # Setup's privacy setting, not the built-in default
allowed = ctx.allowed_stores()
flt = filter_bar(
    allowed, store=False, default_days=28, default_granularity="day", complete_days=True
)
st.title("Compare stores")
if includes_today(flt):
    st.warning(PARTIAL_NOTE, icon=":material/schedule:")
if not allowed:
    st.info("No store is in your scope.")
    st.stop()

with data_errors():
    # No stores requested = every store in the user's scope (resolved by the data layer).
    period = kpi.KpiFilter(flt.start, flt.end, (), flt.granularity)  # type: ignore[arg-type]
    table = remembered(
        ctx.reader,
        "store_comparison",
        (period, ctx.scope, min_group),
        lambda: kpi.store_comparison(ctx.reader, period, ctx.scope, min_group),
    )
    # Issue 19 item 7: how fast staff acknowledge alerts (the store database, or in chain
    # mode the response seconds the lake publishes with its alert counts: the same median).
    response = remembered(
        ctx.reader,
        "alert_response",
        (period, ctx.scope),
        lambda: alert_response.median_response(ctx.reader, period, ctx.scope),
    )
    table = table.join(
        response.select("store_id", "median_response_min"), on="store_id", how="left"
    )

fresh = show_freshness(ctx, table["store_id"].to_list(), flt.start, flt.end)
if fresh is not None:
    table = mask_unpublished(
        table, fresh, keep=("open_hour", "close_hour", "area_m2", "open_hours")
    )

regions = sorted(r for r in table["region"].unique().to_list() if r)
chosen = st.sidebar.multiselect("Region", regions, default=regions, key="f_regions")
shown = table.filter(pl.col("region").is_in(chosen)) if chosen else table.clear()
columns = [c for c, _, _ in views.LEADERBOARD if c in shown.columns]
shown = views.flag_outliers(
    shown.select(
        "store_id", "name", "region", *views.with_satisfaction_context(columns, shown.columns)
    ),
    columns,  # the interval and sample size are context, never outliers
)

st.caption(
    f"{flt.start} – {flt.end} · {shown.height} store{'' if shown.height == 1 else 's'} · "
    "click a column header to sort · "
    "outliers: robust z-score over 3.5 (median/MAD)"
)
# Labels (picker, chart), column headers, formats and tooltips: one table, kpi.PRESENTATION.
labels = {c: kpi.PRESENTATION[c].label for c in columns}
config = {
    c: st.column_config.NumberColumn(
        look.column_header, format=look.column_format, help=look.help or None
    )
    for c in [*columns, *(k for k, _ in views.SATISFACTION_CONTEXT)]
    for look in [kpi.PRESENTATION[c]]
}
config["outliers"] = st.column_config.TextColumn("Outliers", help="KPIs far from the median")
config["funnel"] = drill_links.funnel_column()
# What the table and the exports show: outliers named in words ("Avg queue wait"), not by
# column key; `shown` keeps the keys the chart's outline marks are matched on.
in_words = shown.with_columns(
    pl.col("outliers").map_elements(
        lambda keys: ", ".join(labels.get(k, k) for k in keys.split(", ") if k),
        return_dtype=pl.String,
    )
)
show_table(st, drill_links.with_funnel(in_words, table), column_config=config, key="leaderboard")
# One link per store up to 2 x TOP_N; past that the highest and lowest by visitors (5,000
# links were 5,000 page elements; the Drill-down page picks any store itself).
drill_links.drill_links(
    trend_stores(shown, "visitors", TOP_N),
    flt.start,
    flt.end,
    names=dict(zip(shown["store_id"], shown["name"], strict=True)),  # names, not ids
)

left, right = st.columns(2)
left.download_button(
    "Download CSV", in_words.write_csv().encode(), "storelens-compare.csv", "text/csv", key="dl_csv"
)
buffer = io.BytesIO()
in_words.write_parquet(buffer)
right.download_button(
    "Download Parquet",
    buffer.getvalue(),
    "storelens-compare.parquet",
    "application/vnd.apache.parquet",
    key="dl_parquet",
)

# The bar chart draws at once; the trend by store (a panel per store over every other store
# in grey: 13,000 points, 360 kB and ~0.4 s of the browser's main thread for 12 stores,
# benchmarks/profile_pages.py) only when its tab is opened.
chart_tab, trend_tab = st.tabs(
    ["Leaderboard chart", "Trend by store"],
    on_change="rerun",
    key="compare_tab",
    bind="query-params",  # ?compare_tab=Trend+by+store opens the trend (links, tests)
)
with chart_tab:
    if chart_tab.open:
        kpi_column = st.selectbox("KPI", columns, format_func=labels.get, key="f_kpi")
        flagged = {
            s
            for s, o in zip(shown["store_id"], shown["outliers"], strict=True)
            if kpi_column in o.split(", ")
        }
        # A long leaderboard (an HQ over thousands of stores) draws its leaders and laggards only.
        bars, bars_note = chart_rows(shown, kpi_column, TOP_N)
        st.plotly_chart(
            charts.leaderboard_bars(bars, kpi_column, labels[kpi_column], flagged), width="stretch"
        )
        if bars_note:
            st.caption(f"The chart shows {bars_note}.")

with trend_tab:
    if trend_tab.open:
        trend_kpis = {
            k: kpi.PRESENTATION[k].label
            for k in ("visitors", "conversion", "sales", "satisfaction_index", "star")
        }
        trend_kpi = (
            st.segmented_control(
                "Trend",
                list(trend_kpis),
                format_func=trend_kpis.get,
                default="visitors",
                key="f_trend",
            )
            or "visitors"
        )
        with data_errors():
            # A panel per store; past 2 x TREND_N stores, the highest and lowest of the trend's KPI.
            trend_flt = period.with_(stores=tuple(trend_stores(shown, trend_kpi, TREND_N)))
            if trend_flt.stores:
                compute_trend = {
                    "visitors": lambda: kpi.visitors(ctx.reader, trend_flt, ctx.scope),
                    "conversion": lambda: kpi.conversion(ctx.reader, trend_flt, ctx.scope),
                    "sales": lambda: kpi.sales_per_visitor(ctx.reader, trend_flt, ctx.scope),
                    "satisfaction_index": lambda: kpi.satisfaction(
                        ctx.reader, trend_flt, ctx.scope, min_group
                    ),
                    "star": lambda: kpi.star(ctx.reader, trend_flt, ctx.scope),
                }[trend_kpi]
                daily = remembered(
                    ctx.reader,
                    f"trend {trend_kpi}",
                    (trend_flt, ctx.scope, min_group),
                    compute_trend,
                )
                names = dict(zip(shown["store_id"], shown["name"], strict=True))  # names, not ids
                st.plotly_chart(
                    charts.kpi_trend(daily, trend_kpi, trend_kpis[trend_kpi], names=names),
                    width="stretch",
                )
