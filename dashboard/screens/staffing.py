"""Staffing: scheduled vs recommended staff per hour, the cost of over- and under-staffing,
and what-if sliders (target STAR, target wait, hourly cost) that recompute at once."""

import polars as pl
import streamlit as st
from storelens.dashboard import charts
from storelens.dashboard.filters import PARTIAL_NOTE, filter_bar, includes_today
from storelens.dashboard.rota_view import show_tomorrows_rota
from storelens.dashboard.session import data_errors, page_context
from storelens.data import kpi
from storelens.data.reader import remembered

ctx = page_context()
flt = filter_bar(ctx.allowed_stores(), granularity=False, default_days=7, complete_days=True)
st.title("Staffing")
if includes_today(flt):
    st.warning(PARTIAL_NOTE, icon=":material/schedule:")
if flt.store is None:
    st.info("No store is in your scope.")
    st.stop()

defaults = kpi.StaffingTargets()
left, middle, right = st.columns(3)
target_star = left.slider(
    "Target STAR (visitors per staff hour)",
    1.0,
    60.0,
    float(defaults.target_star),
    1.0,
    key="w_star",
)
target_wait = middle.slider(
    "Target checkout wait (s)", 15, 600, int(defaults.target_wait_s), 15, key="w_wait"
)
hourly_cost = right.slider(
    "Hourly cost (€)", 8.0, 60.0, float(defaults.default_hourly_cost), 0.5, key="w_cost"
)

with data_errors():
    targets = kpi.StaffingTargets(
        target_star=target_star, target_wait_s=float(target_wait), default_hourly_cost=hourly_cost
    )
    period = kpi.KpiFilter(flt.start, flt.end, (flt.store,), "hour")
    frame = remembered(
        ctx.reader,
        "staffing",
        (period, ctx.scope, targets),
        lambda: kpi.staffing(ctx.reader, period, ctx.scope, targets),
    )

# What-if cost: the slider's hourly rate replaces the store's observed rate, so the cost of
# the difference answers "what if an hour of staff cost this much".
frame = frame.with_columns((pl.col("diff_staff") * hourly_cost).alias("cost_diff"))
summary = kpi.staffing_summary(frame)
row = (
    summary.row(0, named=True)
    if summary.height
    else {"hours_over": 0, "hours_under": 0, "cost_over": 0.0, "cost_under": 0.0}
)

a, b, c, d = st.columns(4)
a.metric("Hours over-staffed", f"{row['hours_over']}")
b.metric("Cost of over-staffing", f"€{row['cost_over'] or 0:,.0f}")
c.metric("Hours under-staffed", f"{row['hours_under']}")
d.metric("Cost to close the gap", f"€{row['cost_under'] or 0:,.0f}")
st.plotly_chart(charts.staffing(frame), width="stretch")
st.caption(
    "Recommended = max(visitors ÷ target STAR, Erlang C checkout staff for the target "
    "wait, 1), from the mean of the same weekday and hour over the previous 4 weeks."
)
with st.expander("Hour by hour"):
    st.dataframe(frame.drop("store_id"), hide_index=True)

# Tomorrow's recommended rota from the traffic forecast (issue 22; dashboard/rota_view.py),
# at the targets chosen above.
show_tomorrows_rota(ctx.reader, ctx.scope, flt.store, targets)
