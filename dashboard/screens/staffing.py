"""Staffing: scheduled vs recommended staff per hour, the cost of over- and under-staffing,
and what-if sliders (target STAR, target wait, hourly cost) that recompute at once."""

import polars as pl
import streamlit as st
from storelens.dashboard import charts
from storelens.dashboard.filters import PARTIAL_NOTE, filter_bar, includes_today
from storelens.dashboard.formatting import metric_value, table
from storelens.dashboard.rota_view import show_tomorrows_rota
from storelens.dashboard.session import data_errors, page_context
from storelens.data import kpi
from storelens.data.reader import remembered
from storelens.data.staffing_cost import staff_cost

# The hour-by-hour table in words (the frame's own names are for code).
HOUR_COLUMNS = {
    "bucket": "Hour",
    "visitors_basis": "Visitors expected",
    "transactions_basis": "Sales expected (receipts)",
    "scheduled_staff": "Staff scheduled",
    "star_staff": "Staff for the target STAR",
    "checkout_staff": "Staff for the checkout wait",
    "recommended_staff": "Staff recommended",
    "diff_staff": "Scheduled minus recommended",
    "status": "Over / under",
    "cost_diff": "Cost of the difference (€)",
}
ctx = page_context()
flt = filter_bar(
    ctx.allowed_stores(),
    granularity=False,
    default_days=7,
    complete_days=True,
    names=ctx.store_names(),  # the picker says store names
)
st.title("Staffing")
if includes_today(flt):
    st.warning(PARTIAL_NOTE, icon=":material/schedule:")
if flt.store is None:
    st.info("No store is in your scope.")
    st.stop()

defaults = kpi.StaffingTargets()
period = kpi.KpiFilter(flt.start, flt.end, (flt.store,), "hour")
with data_errors():
    # One cost source: the imported shift costs when there are any for the period.
    cost = staff_cost(ctx.reader, period, ctx.scope, float(defaults.default_hourly_cost))
imported = cost.source == "imported shift costs"
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
    "Hourly cost (€ per staff-hour)",
    8.0,
    60.0,
    float(defaults.default_hourly_cost),
    0.5,
    key="w_cost",
    disabled=imported,
    help="used only where no shift costs are imported for the period",
)
rate = cost.rate if imported else hourly_cost

with data_errors():
    targets = kpi.StaffingTargets(
        target_star=target_star, target_wait_s=float(target_wait), default_hourly_cost=hourly_cost
    )
    frame = remembered(
        ctx.reader,
        "staffing",
        (period, ctx.scope, targets),
        lambda: kpi.staffing(ctx.reader, period, ctx.scope, targets),
    )

# Every € on this page comes from the one rate said below (labour cost / visitor on the
# Store page uses the same imported shift costs).
frame = frame.with_columns((pl.col("diff_staff") * rate).alias("cost_diff"))
summary = kpi.staffing_summary(frame)
row = (
    summary.row(0, named=True)
    if summary.height
    else {"hours_over": 0, "hours_under": 0, "cost_over": 0.0, "cost_under": 0.0}
)

a, b, c, d = st.columns(4)
a.metric("Hours over-staffed", metric_value(row["hours_over"], "{:,}"))
b.metric("Cost of over-staffing", f"€{row['cost_over'] or 0:,.0f}")
c.metric("Hours under-staffed", metric_value(row["hours_under"], "{:,}"))
d.metric("Cost to close the gap", f"€{row['cost_under'] or 0:,.0f}")
st.caption(
    f":material/euro: Costs use the imported shift costs: €{rate:,.2f} per staff-hour on "
    f"average over {cost.staff_hours:,.0f} imported staff-hours in this period (the slider "
    "applies only where no shifts are imported)."
    if imported
    else f":material/euro: Costs use the hourly cost set on this page: €{rate:,.2f} per "
    "staff-hour (no shift costs are imported for this period)."
)
st.plotly_chart(charts.staffing(frame), width="stretch")
st.caption(
    "Recommended = max(visitors ÷ target STAR, Erlang C checkout staff for the target "
    "wait, 1), from the mean of the same weekday and hour over the previous 4 weeks."
)
with st.expander("Hour by hour"):
    table(st, frame.drop("store_id").rename(HOUR_COLUMNS))

# Tomorrow's recommended rota from the traffic forecast (issue 22; dashboard/rota_view.py),
# at the targets chosen above.
show_tomorrows_rota(ctx.reader, ctx.scope, flt.store, targets)
