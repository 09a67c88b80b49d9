"""Executive summary: one screen — which stores lead, which lag, and why."""

from datetime import date, timedelta

import streamlit as st
from storelens.dashboard import charts, summary_insights, views
from storelens.dashboard.chain import chain_page_context, show_freshness
from storelens.dashboard.compare_top import TOP_N, chart_rows
from storelens.dashboard.session import data_errors
from storelens.dashboard.settings import min_group_size
from storelens.data import kpi
from storelens.data.reader import remembered

ctx = chain_page_context()  # chain mode: every store from the lake, same scoping
st.title("Summary")
st.markdown(":orange-badge[:material/science: demo data]" if ctx.user.demo else "")

end = date.today() - timedelta(days=1)  # complete days only: today is still partial
start = end - timedelta(days=27)
st.caption(f"The last 28 complete days: {start} – {end}.")
with data_errors():
    period, min_group = kpi.KpiFilter(start, end, (), "day"), min_group_size()
    # Same key as Compare stores' default view: opening one after the other reuses it.
    comparison = remembered(
        ctx.reader,
        "store_comparison",
        (period, ctx.scope, min_group),
        lambda: kpi.store_comparison(ctx.reader, period, ctx.scope, min_group),
    )
if comparison.is_empty() or "visitors" not in comparison.columns:
    st.info("No stores with data in your scope yet. `storelens demo seed` writes a demo history.")
    st.stop()

ranked = views.rank_stores(comparison)
# Leads with "compared to when?" and "so what in €?" (issue 22), and offers the weekly report.
summary_insights.lead(ctx, period, min_group, stores=comparison.height)
with st.sidebar:
    summary_insights.report_download(ctx, summary_insights.regions_of(comparison), end, min_group)

if ranked.height < 2:
    st.info("One store in your scope: its numbers are on the Store page.")
    st.stop()
shown = min(3, ranked.height // 2)  # never list a store as both leading and lagging
lead, lag = st.columns(2)
with lead:
    st.subheader("Leading")
    for r in ranked.head(shown).iter_rows(named=True):
        st.markdown(
            f"**{r['name']}** ({r['store_id']}) — score {r['score']:.0f}  \n"
            f"{r['strengths'] or 'steady on every KPI'}"
        )
with lag:
    st.subheader("Lagging")
    for r in ranked.tail(shown).reverse().iter_rows(named=True):
        st.markdown(
            f"**{r['name']}** ({r['store_id']}) — score {r['score']:.0f}  \n"
            f"{r['weaknesses'] or 'no KPI far from the median'}"
        )

# An HQ over thousands of stores: the 10 highest and 10 lowest scores (dashboard/compare_top).
bars, bars_note = chart_rows(ranked, "score", TOP_N)
st.plotly_chart(
    charts.leaderboard_bars(bars, "score", kpi.PRESENTATION["store_score"].label),
    width="stretch",
)
if bars_note:
    st.caption(f"The chart shows {bars_note}.")
score_over = ", ".join(kpi.PRESENTATION[k].label for k in kpi.SCORE_KPIS)
st.caption(
    f"{start} – {end}. Score = 50 + 50 × the mean deviation from the median store, each KPI "
    f"clipped to ±100 % (50 = a typical store), over: {score_over}."
)
show_freshness(ctx, comparison["store_id"].to_list(), start, end)
