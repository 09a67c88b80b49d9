"""Drill-down: Compare → store → day → hour, each step a click, the path kept in the URL
(``/drill?store=s07&from=…&to=…&day=2026-12-05&hour=17``), so a reload or a shared link
lands on the same step. At the hour: the likely-cause facts side by side, each measured
against its own yardstick (data/drill.py)."""

from datetime import date

import polars as pl
import streamlit as st
from storelens.dashboard import charts, insight_charts, views
from storelens.dashboard.chain import chain_page_context
from storelens.dashboard.filters import filter_bar
from storelens.dashboard.formatting import metric_value
from storelens.dashboard.session import data_errors
from storelens.data import drill, health, kpi
from storelens.data.lake_reader import LakeReader

ctx = chain_page_context()  # chain mode: the lake, as Compare (which links here)
lake = isinstance(ctx.reader, LakeReader)  # the lake has no raw camera rows: no health
store_names = ctx.store_names()
flt = filter_bar(
    ctx.allowed_stores(),
    granularity=False,
    default_days=28,
    complete_days=True,
    names=store_names,  # the picker says store names
)
st.title("Drill-down")
if flt.store is None:
    st.info("No store is in your scope.")
    st.stop()
store_name = store_names.get(flt.store, flt.store)  # headings and breadcrumb: the name

targets = kpi.StaffingTargets()
base = {"store": flt.store, "from": flt.start.isoformat(), "to": flt.end.isoformat()}


def _day() -> date | None:
    raw = st.query_params.get("day")
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        st.warning(f"ignored day={raw!r}: not a date (use YYYY-MM-DD)")
        return None


def _hour() -> int | None:
    raw = st.query_params.get("hour")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or not 0 <= int(raw) <= 23:
        st.warning(f"ignored hour={raw!r}: use a whole hour 0–23")
        return None
    return int(raw)


day = _day()
hour = _hour() if day else None


def _go(**step: str) -> None:
    """One step down (or back up): the path lives in the URL, so a reload or a shared link
    lands on the same step. A page link to the page already open does not navigate in
    Streamlit, hence buttons that set the query parameters."""
    for name in ("day", "hour"):
        if name in step:
            st.query_params[name] = step[name]
        elif name in st.query_params:
            del st.query_params[name]


# Breadcrumb: each earlier step goes back to it, with the same path parameters.
crumbs = st.columns([1, 1, 1, 1, 4])
crumbs[0].page_link(
    "screens/compare.py",
    label="Compare",
    icon=":material/leaderboard:",
    query_params={"from": base["from"], "to": base["to"]},
)
crumbs[1].button(store_name, key="crumb_store", on_click=_go, type="tertiary")
if day:
    crumbs[2].button(
        f"{day:%a %d %b}", key="crumb_day", on_click=_go, kwargs={"day": str(day)}, type="tertiary"
    )
if day and hour is not None:
    crumbs[3].markdown(f"**{hour:02d}:00**")

with data_errors():  # the scope goes with every call: a forged ?store= ends in access denied
    if day is None:
        days = drill.days_of_store(
            ctx.reader, flt.store, flt.start, flt.end, ctx.scope, targets.target_wait_s
        )
    elif hour is None:
        hours = drill.hours_of_day(ctx.reader, flt.store, day, ctx.scope)
        cams = (
            pl.DataFrame(schema=health.HOURS_SCHEMA)
            if lake
            else health.camera_hours(ctx.reader, kpi.KpiFilter(day, day, (flt.store,)), ctx.scope)
        )
    else:
        facts = drill.hour_facts(
            ctx.reader, flt.store, day, hour, ctx.scope, targets, camera_health=not lake
        )

if day is None:
    st.subheader(f"{store_name}: {flt.start} – {flt.end}, by day")
    st.caption(
        f"Pick a day. Slow hours: opening hours with a mean checkout wait over "
        f"{targets.target_wait_s:.0f} s."
    )
    if days.is_empty():
        st.info("No data for this store in the period.")
    cols = st.columns(4)
    for i, r in enumerate(days.iter_rows(named=True)):
        wait = "—" if r["queue_wait_s_avg"] is None else f"{r['queue_wait_s_avg']:.0f} s"
        conv = "—" if r["conversion"] is None else f"{r['conversion']:.0%}"
        cols[i % 4].button(
            f"{r['day']:%a %d %b} · {r['visitors']:,} visitors · {conv} · wait {wait}"
            + (f" · {r['slow_hours']} slow h" if r["slow_hours"] else ""),
            key=f"day_{r['day']}",
            on_click=_go,
            kwargs={"day": str(r["day"])},
            width="stretch",
        )
elif hour is None:
    st.subheader(f"{store_name}: {day:%A %d %B %Y}, by hour")
    missing = health.missing_store_hours(cams)
    shown = health.null_missing(hours, missing)
    left, right = st.columns(2)
    left.plotly_chart(
        insight_charts.mark_missing(charts.visitors_transactions(shown), missing), width="stretch"
    )
    queue = shown.select("bucket", "queue_length_avg", pl.col("queue_wait_s_avg").alias("wait_s"))
    right.plotly_chart(insight_charts.mark_missing(charts.queue(queue), missing), width="stretch")
    st.caption("Pick an hour.")
    cols = st.columns(4)
    for i, r in enumerate(shown.iter_rows(named=True)):
        wait = r.get("queue_wait_s_avg")
        flag = " ⚠" if wait is not None and wait > targets.target_wait_s else ""
        label = (
            f"{r['bucket']:%H}:00 · {r['visitors'] if r['visitors'] is not None else 'no data'}"
            f" visitors · wait {'—' if wait is None else f'{wait:.0f} s'}{flag}"
        )
        cols[i % 4].button(
            label,
            key=f"hour_{r['bucket']:%H}",
            on_click=_go,
            kwargs={"day": str(day), "hour": str(r["bucket"].hour)},
            width="stretch",
        )
else:
    st.subheader(f"{store_name}: {day:%A %d %B %Y}, {hour:02d}:00–{hour + 1:02d}:00")
    st.markdown("**Likely cause** — " + " ".join(drill.likely_cause(facts)))
    a, b, c, d = st.columns(4)
    wait, target = facts.wait_s, facts.target_wait_s
    over = None if wait is None else f"{wait - target:+.0f} s vs {target:.0f} s target"
    a.metric(
        "Queue wait vs target",
        metric_value(wait, "{:.0f} s"),
        over,
        delta_color=views.delta_color(over, higher_is_better=False),
        delta_arrow=views.delta_arrow(over),
        help=f"method: {facts.wait_method or 'nobody queued'}",
    )
    on, rec = facts.staff_on_shift, facts.staff_recommended
    b.metric(
        "Staff on shift vs recommended",
        metric_value(on, "{:.0f}"),
        None if on is None or rec is None else f"{on - rec:+.0f} vs {rec} recommended",
        delta_color="off",
        help=(
            "recommended = max(visitors ÷ target STAR, Erlang C checkout staff "
            f"({facts.staff_for_checkout}) for the wait target, 1), from forecast traffic"
        ),
    )
    conv, last = facts.conversion, facts.conversion_last_week
    change = (
        None if conv is None or last is None else f"{100 * (conv - last):+.1f} pts vs {last:.1%}"
    )
    c.metric(
        "Conversion vs same hour last week",
        metric_value(conv, "{:.1%}"),
        change,
        delta_color=views.delta_color(change, higher_is_better=True),
        delta_arrow=views.delta_arrow(change),
    )
    vis, vis_last = facts.visitors, facts.visitors_last_week
    d.metric(
        "Visitors vs same hour last week",
        metric_value(vis, "{:,}"),
        None if vis is None or vis_last is None else f"{vis - vis_last:+,} vs {vis_last:,}",
        delta_color="off",
    )
    uptime = facts.camera_uptime
    st.caption(
        "Camera data in this hour: "
        + ("no camera registered" if uptime is None else f"{uptime:.0%} of 5-minute slots")
        + ". "
        + health.UPTIME_CAPTION
    )
