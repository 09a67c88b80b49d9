"""Live: camera tiles, a status badge per tile, and the alert feed with acknowledgement.

Frames never pass through Streamlit: the browser pulls each camera's MJPEG stream from the
pipeline's tile server (HMAC token per camera; faces blurred on every tile, for every role)
with the script of dashboard/tiles.py, which closes the streams when the page goes away,
greys out a tile whose frames stop, and reconnects by itself. Only the small status/alert
fragment refreshes, and it fetches JSON and rows, never frames.
"""

import time
from datetime import UTC, datetime, timedelta

import polars as pl
import streamlit as st
from storelens.dashboard import charts
from storelens.dashboard.alert_text import describe, response_words
from storelens.dashboard.filters import filter_bar
from storelens.dashboard.services import (
    pipeline_cameras,
    pipeline_store,
    tile_base_url,
    tile_status,
)
from storelens.dashboard.session import data_errors, page_context, tile_renewal_ticket
from storelens.dashboard.tiles import (
    Tile,
    camera_state_script,
    stream_url,
    tile_grid_html,
    token_lifetime_s,
)
from storelens.data import kpi
from storelens.data.errors import DataError
from storelens.data.storetime import format_time, now_utc, zone_name
from storelens.data.storetime import local_clock as local_minutes
from storelens.kernel.tile_tokens import sign_stream_token, stream_secret

# Measured (benchmarks/bench_tiles.py): the alert fragment at 2 s cost ~15 % of a core on
# its own (a DuckDB read each time); status badges are one small JSON GET.
STATUS_REFRESH_S = 2.0
ALERT_REFRESH_S = 5.0
ctx = page_context()
store_names = ctx.store_names()
flt = filter_bar(ctx.allowed_stores(), dates=False, granularity=False, names=store_names)
# Names, not ids: the store's name under the title, camera names on tiles, badges, charts.
st.title("Live")
if flt.store in store_names:
    st.caption(f":material/storefront: **{store_names[flt.store]}**")
if flt.store is None:
    st.info("No store is in your scope.")
    st.stop()

with data_errors():
    # The scope check happens in the data layer: a forged ?store= stops here.
    kpi.resolve_stores(
        ctx.reader,
        kpi.KpiFilter(datetime.now().date(), datetime.now().date(), (flt.store,)),
        ctx.scope,
    )
    cameras = ctx.reader.query("cameras", {"stores": [flt.store]})
    store_row = ctx.reader.query("stores", {"stores": [flt.store]})
# Times on this page are the store's wall clock, with the zone named.
store_tz = store_row["timezone"][0] if store_row.height else None
camera_names = {cid: name or cid for cid, name in cameras.select("camera_id", "name").iter_rows()}

streaming = {c["camera_id"]: c for c in pipeline_cameras(flt.store)}
base = tile_base_url()
tiles, feed = st.columns([3, 1])


def _camera_states(statuses: dict[str, dict]) -> dict[str, tuple[str, str]]:
    """camera id -> (state, since as store time) from the tile server's /status."""
    out = {}
    for camera_id, s in statuses.items():
        since = s.get("since") if s.get("state") != "online" else None
        when = format_time(datetime.fromtimestamp(since, UTC), store_tz, "%H:%M") if since else ""
        out[camera_id] = (str(s.get("state") or ""), when)
    return out


def _log_views(camera_ids: list[str]) -> None:
    """Audit trail: one live_view_log row per camera per browser session."""
    logged: set[str] = st.session_state.setdefault("storelens_logged_views", set())
    for camera_id in camera_ids:
        if camera_id not in logged:
            ctx.reader.log_live_view(ctx.user.name, ctx.user.role.value, camera_id)
            logged.add(camera_id)


with tiles:
    live_ids = [cid for cid in cameras["camera_id"].to_list() if cid in streaming][:9]
    if not live_ids or base is None:
        # Say what is actually the case: "start storelens up" while it runs misleads.
        running = pipeline_store()
        if running is None or base is None:
            why = "no pipeline is running on this machine. Start it with `storelens up`."
        elif running != flt.store:
            why = (
                f"the pipeline running here serves store **{store_names.get(running, running)}**;"
                f" the cameras of **{store_names.get(flt.store, flt.store)}** are watched by "
                "that store's own StoreLens."
            )
        else:
            why = "the running pipeline has no camera of this store (Setup → Cameras)."
        st.info(f"No live tiles: {why}")
    else:
        _log_views(live_ids)
        secret = stream_secret()
        # Tokens live at most a minute (issue 18, item 8): the tile script trades the
        # ticket for fresh ones while this session stays signed in; sign-out ends them.
        lifetime = token_lifetime_s()
        ticket, tag = tile_renewal_ticket(live_ids)
        now_s = time.time()
        first_status = _camera_states(tile_status())
        grid = [
            Tile(
                camera_id,
                streaming[camera_id].get("name") or camera_names.get(camera_id, camera_id),
                stream_url(
                    base,
                    camera_id,
                    sign_stream_token(secret, camera_id, ttl_s=lifetime, tag=tag, now=now_s),
                ),
                *first_status.get(camera_id, ("", "")),
            )
            for camera_id in live_ids
        ]
        # At most two a row: three a row made tiles ~220 px wide, where no overlay text is
        # legible (detectors/overlay.py sizes its labels for tiles from ~330 px).
        per_row = 1 if len(live_ids) == 1 else 2
        st.html(
            tile_grid_html(grid, per_row, store_tz, ticket=ticket, lifetime_s=lifetime),
            unsafe_allow_javascript=True,
        )


@st.fragment(run_every=STATUS_REFRESH_S)
def status_badges() -> None:
    """One badge per tile from the tile server's /status JSON (no frames), and the same
    states handed to the tiles, so an offline camera's tile says "camera offline"."""
    statuses = tile_status()
    badges = []
    for camera_id in live_ids:
        s = statuses.get(camera_id)
        name = (s or {}).get("name") or camera_names.get(camera_id, camera_id)
        if s is None:
            badges.append(f":gray-badge[{name}: status unknown]")
            continue
        state, fps = s.get("state", "offline"), s.get("analysed_fps", 0.0)
        colour = {"online": "green", "reconnecting": "orange"}.get(state, "red")
        since = ""
        if state != "online" and s.get("since"):
            when = datetime.fromtimestamp(s["since"], UTC)
            since = " since " + format_time(when, store_tz, "%H:%M:%S")
        # Frame rates are for whoever sets cameras up, not for the floor.
        rate = f" · {fps:.1f} fps" if ctx.user.may_setup else ""
        badges.append(f":{colour}-badge[{name}: {state}{since}{rate}]")
    if badges:
        st.markdown(" ".join(badges))
    st.html(camera_state_script(_camera_states(statuses)), unsafe_allow_javascript=True)


def _acknowledge(alert_id: int) -> None:
    try:
        ctx.reader.ack_alert(alert_id, ctx.user.name)
    except DataError as exc:
        st.toast(f"Could not acknowledge: {exc}")


@st.fragment(run_every=ALERT_REFRESH_S)
def alert_feed() -> None:
    """Open and recent alerts of this store (scoped rows), each with Acknowledge."""
    st.subheader("Alerts")
    with data_errors():
        alerts = kpi.alert_list(
            ctx.reader, ctx.scope, [flt.store], since=now_utc() - timedelta(days=1)
        )
    if alerts.is_empty():
        st.caption("No alerts in the last 24 h.")
    for row in alerts.iter_rows(named=True):
        text = describe(row["kind"], row["detail"], row.get("zone"), row.get("zone_kind"))
        with st.container(border=True):
            st.markdown(
                f"**{text.title}** · {format_time(row['ts'], store_tz)}  \n{text.detail}  \n"
                f":material/task_alt: {text.action}"
            )
            if row["acknowledged_ts"] is not None:
                st.caption(
                    f"acknowledged by {row['acknowledged_by']}"
                    + response_words(row.get("response_s"))
                )
            elif ctx.user.may_acknowledge:
                # The id comes from the scoped list above, never from the URL; the callback
                # runs before the fragment reruns, so the list below already shows it done.
                st.button(
                    "Acknowledge",
                    key=f"ack_{row['alert_id']}",
                    on_click=_acknowledge,
                    args=(row["alert_id"],),
                )


with tiles:
    if live_ids:
        status_badges()
with feed:
    alert_feed()

with data_errors():
    since = now_utc() - timedelta(minutes=60)
    zone = zone_name(store_tz)
    for camera_id in live_ids[:1] or cameras["camera_id"].to_list()[:1]:
        frame = kpi.people_per_minute(ctx.reader, camera_id, since)
        if frame.is_empty():  # an empty chart showed axes from -1 to 6 and nothing else
            st.caption(
                f"People per minute — {camera_names.get(camera_id, camera_id)}: "
                "nobody seen in the last hour."
            )
            continue
        # The axis on the store's wall clock, like the alerts and the tiles beside it.
        frame = frame.with_columns(local_minutes(pl.col("minute"), store_tz))
        st.plotly_chart(
            charts.people_per_minute(
                frame, f"People per minute — {camera_names.get(camera_id, camera_id)} ({zone})"
            ),
            width="stretch",
        )
