"""Staffing page section: tomorrow's recommended rota (issue 22), beside the imported shifts.

Its own module so the Staffing page only calls :func:`show_tomorrows_rota`. The numbers
come from ``data.rota`` for the signed-in user's reader and scope, as every page's do; the
CSV download is the shift-import format, so a manager can import it as the plan.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import streamlit as st
from storelens.dashboard.formatting import table
from storelens.data.errors import DataError
from storelens.data.kpi import Scope, StaffingTargets
from storelens.data.reader import Reader
from storelens.data.rota import Rota, plan_rota, rules_for
from storelens.data.storetime import store_today
from storelens.kernel.config import StoreConfig
from storelens.kernel.errors import StoreLensError

_CACHE_KEY = "rota_cache"  # per browser session: one forecast fit per store, day and targets


def _store_config() -> StoreConfig | None:
    from storelens.dashboard.settings import load_store_config

    try:
        config = load_store_config()
    except StoreLensError:
        return None  # safe mode explains the broken file; the rota keeps the defaults
    return config.store if config is not None else None


def _rota(reader: Reader, scope: Scope, store_id: str, targets: StaffingTargets) -> Rota:
    tz = reader.query("stores", {"stores": [store_id]})["timezone"].to_list()
    day = store_today(tz[0] if tz else None) + timedelta(days=1)
    key = (store_id, day, scope.stores, targets.target_star, targets.target_wait_s)
    cache: dict = st.session_state.setdefault(_CACHE_KEY, {})
    if key not in cache:
        cache.clear()  # one entry: a rota is only asked for the store on screen
        rules, country = rules_for(store_id, _store_config(), targets)
        cache[key] = plan_rota(reader, store_id, day, scope, rules, country)
    return cache[key]


def show_tomorrows_rota(
    reader: Reader, scope: Scope, store_id: str, targets: StaffingTargets
) -> None:
    """The 'Tomorrow's rota' section for ``store_id`` (targets: the page's STAR and wait)."""
    st.subheader("Tomorrow's rota")
    try:
        with st.spinner("Forecasting tomorrow's traffic…"):
            rota = _rota(reader, scope, store_id, targets)
    except DataError as exc:
        st.info(f"No rota: {exc}")
        return
    data = rota.as_dict()
    title = f"{rota.day:%A %d %B %Y}"
    if rota.holiday:
        title += f" — public holiday: {rota.holiday} (check the opening hours)"
    st.caption(title)
    cost = data["cost"]
    a, b, c = st.columns(3)
    a.metric("Recommended shifts", f"{len(rota.shifts)}")
    b.metric("Rota cost", f"€{cost['recommended']:,.0f}")
    c.metric(
        "Imported plan cost",
        f"€{cost['planned']:,.0f}",
        delta=f"€{cost['difference']:,.0f} vs rota" if cost["planned"] else None,
        delta_color="inverse",
    )
    for line in data["comparison"]:
        st.markdown(f"- {line}")
    left, right = st.columns([3, 2])
    table(
        left,
        rota.hours.select(
            pl.col("hour").cast(pl.String).str.zfill(2).add(":00").alias("hour"),
            pl.col("forecast").round(0).cast(pl.Int64).alias("visitors (forecast)"),
            pl.format(
                "{}–{}", pl.col("lo").round(0).cast(pl.Int64), pl.col("hi").round(0).cast(pl.Int64)
            ).alias("80 % interval"),
            pl.col("staff_recommended").alias("staff recommended"),
            pl.col("staff_planned").round(1).alias("staff planned"),
        ),
        hide_index=True,
    )
    table(
        right,
        pl.DataFrame(data["shifts"]).select("start", "end", "role", "cost")
        if data["shifts"]
        else pl.DataFrame(),
        hide_index=True,
    )
    right.download_button(
        "Download rota (CSV, shift import)",
        rota.to_csv(),
        file_name=f"rota-{rota.store_id}-{rota.day}.csv",
        mime="text/csv",
        key="rota_csv",
    )
    bt = data["backtest"]
    st.caption(
        f"Forecast: statsforecast MSTL (weekday × hour season, trend; public holidays by "
        f"country), 80 % interval. Backtest over the last {bt['windows']} weeks: WAPE "
        f"{bt['wape_forecast']:.1%} against {bt['wape_naive']:.1%} for 'same hour last week'. "
        f"Shifts {rota.rules.min_shift_hours}–{rota.rules.max_shift_hours} h at the store's "
        f"€{cost['hourly_rate']:.2f} an hour; import the CSV with `storelens import shifts`."
    )
