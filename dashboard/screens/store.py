"""Store: the week's headline numbers (complete days) vs the same weekdays a week earlier,
today so far vs the same opening hours last week, and the charts by hour."""

from datetime import UTC, datetime, timedelta

import streamlit as st
from storelens.dashboard import charts, store_insights, views
from storelens.dashboard.filters import PARTIAL_NOTE, filter_bar, includes_today
from storelens.dashboard.formatting import metric_value
from storelens.dashboard.services import tile_still
from storelens.dashboard.session import data_errors, page_context
from storelens.dashboard.settings import min_group_size
from storelens.dashboard.today_panel import show_today
from storelens.data import health, kpi
from storelens.data.storetime import now_utc
from storelens.data.today import today_so_far

HEATMAP_BINS = (16, 9)
ctx = page_context()
min_group = min_group_size()  # Setup's privacy setting, not the built-in default
store_names = ctx.store_names()
flt = filter_bar(
    ctx.allowed_stores(),
    default_days=7,
    default_granularity="hour",
    complete_days=True,
    names=store_names,  # the picker says store names, as Staffing and Drill-down
)
st.title("Store")
if flt.store is None:
    st.info("No store is in your scope.")
    st.stop()
store_name = store_names.get(flt.store, flt.store)

with data_errors():
    # Today runs on the store's own clock (the scope check comes first, inside).
    today_panel = today_so_far(ctx.reader, flt.store, ctx.scope, min_group)
    today = today_panel.today
    # The week's headline counts complete days only, like Compare and Summary: a morning's
    # handful of visitors and not-yet-imported sales must not move the week's figures.
    week_end = min(flt.end, today - timedelta(days=1))
    if week_end >= flt.start:
        now = kpi.headline(ctx.reader, flt.store, flt.start, week_end, ctx.scope, min_group)
        before_start, before_end = views.comparison_period(flt.start, week_end)
        before = kpi.headline(ctx.reader, flt.store, before_start, before_end, ctx.scope, min_group)
    period = kpi.KpiFilter(flt.start, flt.end, (flt.store,), flt.granularity)  # type: ignore[arg-type]
    metrics = kpi.metrics(ctx.reader, period, ctx.scope)
    queue = kpi.queue(ctx.reader, period, ctx.scope)
    zones = kpi.zone_metrics(ctx.reader, period.with_(granularity="hour"), ctx.scope)

if week_end >= flt.start:
    st.caption(
        f"**{store_name}** · complete days {flt.start} – {week_end} · change vs "
        f"{before_start} – {before_end}"
        + (" · today is in its own panel below" if flt.end >= today else "")
    )
    columns = st.columns(len(views.HEADLINE))
    for column, (key, label, fmt, _) in zip(columns, views.HEADLINE, strict=True):
        value = now.get(key)
        shown, color = views.metric_delta(key, value, before.get(key))
        help_text = None
        if key == "satisfaction_index":
            share = now.get("faces_read")
            help_text = (
                f"faces read on {share:.0%} of tracks; hidden below {now['min_group']} faces"
                if share is not None
                else "no faces read"
            )
        column.metric(
            label,
            metric_value(value, fmt),
            shown,
            delta_color=color,  # grey when the change rounds to zero
            delta_arrow=views.delta_arrow(shown),
            help=help_text,
        )
        if key == "satisfaction_index" and value is not None:
            column.caption(views.satisfaction_note(now))  # every satisfaction figure: CI and n
else:
    st.caption(f"**{store_name}** · the period is today only: see today's panel.")

show_today(today_panel)

partial = includes_today(flt, today)
if partial:  # the charts may show today (a chosen range): marked as what it is
    st.caption(f":material/schedule: {PARTIAL_NOTE}")


def _partial(fig):  # shade today's buckets on charts over time
    if not partial:
        return fig
    start = datetime.combine(today, datetime.min.time())
    # Bars sit centred on their bucket's start, so the shade reaches half a bucket either
    # side of the first and last bucket that hold today.
    if flt.granularity == "hour":
        first, last, half = start, start + timedelta(hours=23), timedelta(minutes=30)
    elif flt.granularity == "week":
        first = last = start - timedelta(days=start.weekday())  # this week's Monday
        half = timedelta(days=3.5)
    else:
        first = last = start
        half = timedelta(hours=12)
    return charts.mark_partial(fig, first - half, last + half)


# Two charts per tab, each tab drawn only while it is open: every plotly chart costs the
# browser ~40 ms of main-thread time to draw (benchmarks/profile_pages.py), and six at once
# kept the page over half a second from click to rendered.
traffic_tab, service_tab, places_tab, health_tab = st.tabs(
    ["Traffic", "Satisfaction and queue", "Zones and positions", "Funnel and data health"],
    on_change="rerun",
    key="store_tab",
    bind="query-params",  # ?store_tab=Zones+and+positions opens that tab (links, tests)
)
# Hours without camera data (issue 22 item 6) are drawn as marked gaps, never as 0 visitors.
cam_hours = (
    store_insights.camera_hours(ctx, flt.store, flt.start, flt.end)
    if traffic_tab.open or service_tab.open or health_tab.open
    else None
)
missing = [] if cam_hours is None else health.missing_store_hours(cam_hours)


def _gaps(fig):  # shade the buckets that hold hours without camera data
    return store_insights.mark(fig, missing, flt.granularity)


if traffic_tab.open:
    left, right = traffic_tab.columns(2)
    metrics = store_insights.with_gaps(metrics, missing, flt.granularity)
    left.plotly_chart(_gaps(_partial(charts.visitors_transactions(metrics))), width="stretch")
    conversion = kpi.with_kpis(metrics, min_group).select("bucket", "conversion")
    right.plotly_chart(_gaps(_partial(charts.conversion(conversion))), width="stretch")

if service_tab.open:
    left, right = service_tab.columns(2)
    left.plotly_chart(
        charts.satisfaction_heatmap(views.satisfaction_by_zone_hour(zones, min_group)),
        width="stretch",
    )
    left.caption(
        f"Blank cells: fewer than {min_group} readable faces, so nothing is shown. "
        "Hover a cell for its 95 % interval and the number of faces. " + views.SATISFACTION_MEANING
    )
    right.plotly_chart(_gaps(_partial(charts.queue(queue))), width="stretch")


def _places(left, right) -> None:  # dwell and where people stand (raw boxes: queried here)
    left.plotly_chart(charts.dwell_by_zone(views.dwell_by_zone(zones)), width="stretch")
    with data_errors():
        # Boxes are kept only a few days (retention), so the heatmap covers the period's recent
        # part; the store list is resolved against the scope again before the raw query.
        since = max(
            datetime.combine(flt.start, datetime.min.time(), UTC), now_utc() - timedelta(days=7)
        )
        cells = ctx.reader.query(
            "position_heatmap",
            {
                "stores": kpi.resolve_stores(ctx.reader, period, ctx.scope),
                "since": since,
                "x_bins": HEATMAP_BINS[0],
                "y_bins": HEATMAP_BINS[1],
            },
        )
        cameras = ctx.reader.query("cameras", {"stores": [flt.store]})
    # People read camera names; the id stays the key the queries and the still use.
    camera_names = {c: n or c for c, n in cameras.select("camera_id", "name").iter_rows()}
    cameras_seen = cells["camera_id"].unique().sort().to_list()
    if cameras_seen:
        camera = (
            right.selectbox(
                "Camera",
                cameras_seen,
                format_func=lambda c: camera_names.get(c, c),
                key="heatmap_camera",
            )
            if len(cameras_seen) > 1
            else cameras_seen[0]
        )
        still = tile_still(camera)  # the live picture (faces blurred), when its pipeline runs here
        if still is not None:
            # A still is a look at the live view: audited like the Live page (once a session).
            logged: set[str] = st.session_state.setdefault("storelens_logged_views", set())
            if camera not in logged:
                with data_errors():
                    ctx.reader.log_live_view(ctx.user.name, ctx.user.role.value, camera)
                logged.add(camera)
        right.plotly_chart(
            charts.position_heatmap(
                cells.filter(cells["camera_id"] == camera),
                *HEATMAP_BINS,
                title=f"Where people stand — {camera_names.get(camera, camera)}",
                still=still,
            ),
            width="stretch",
        )
    else:
        right.info(
            "Where people stand: no person boxes kept for this period (boxes are kept "
            "for a few days only)."
        )


if places_tab.open:
    _places(*places_tab.columns(2))

if health_tab.open and cam_hours is not None:
    with health_tab:
        store_insights.funnel_and_health(ctx, flt.store, flt.start, flt.end, cam_hours)
