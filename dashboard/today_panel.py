"""The Store page's today panel: today so far against the same opening hours last week.

Streamlit only; the numbers come from :func:`data.today.today_so_far`. Every time on it is
the store's wall clock with the zone's name.
"""

from __future__ import annotations

import streamlit as st
from storelens.dashboard import views
from storelens.dashboard.formatting import metric_value
from storelens.data.storetime import hour_text
from storelens.data.today import TodaySoFar

_SALES_KEYS = ("conversion", "sales_per_visitor")


def _when(panel: TodaySoFar, hour: int) -> str:
    return f"{hour_text(hour)} {panel.day.now.tzname()}"


def show_today(panel: TodaySoFar) -> None:
    """Render the panel: a state line, then (once an opening hour has ended) the figures."""
    day, zone = panel.day, panel.day.now.tzname()
    st.subheader("Today so far")
    st.caption(
        f"{panel.today:%a} {panel.today.day} {panel.today:%b} · store time "
        f"{day.now:%H:%M} {zone} · open {_when(panel, day.open_hour)} – "
        f"{_when(panel, day.close_hour)}"
    )
    early = panel.before_opening_visitors
    early_note = (
        f" {early:,} people the cameras saw before opening are not counted." if early else ""
    )
    if day.state == "before_opening":
        st.info(
            f"Before opening: the store opens at {_when(panel, day.open_hour)}. Nothing "
            f"counts for today until then.{early_note}",
            icon=":material/schedule:",
        )
        return
    if not panel.hours:
        st.info(
            f"Open since {_when(panel, day.open_hour)}: today's figures start when the first "
            f"hour ends at {_when(panel, day.open_hour + 1)}.{early_note}",
            icon=":material/schedule:",
        )
        return
    upto = panel.hours.stop
    last = f"{panel.last_week:%a} {panel.last_week.day} {panel.last_week:%b}"
    running = (
        f"; the running hour {_when(panel, day.running_hour)} joins when it ends"
        if day.running_hour is not None
        else " (closed: the whole day)"
    )
    st.caption(
        f"Complete opening hours {_when(panel, panel.hours.start)} – {_when(panel, upto)} "
        f"against the same hours on {last}{running}.{early_note}"
    )
    labels = {key: (label, fmt, up) for key, label, fmt, up in views.HEADLINE}
    columns = st.columns(len(panel.now_figures) - 1)
    keys = [k for k in panel.now_figures if k != "transactions"]
    for column, key in zip(columns, keys, strict=True):
        label, fmt, _ = labels[key]
        value, before = panel.now_figures.get(key), panel.before_figures.get(key)
        help_text = None
        if key in _SALES_KEYS and not panel.sales_imported:
            # Sales arrive with the POS import: no sales yet is unknown, not a bad day.
            value = before = None
            help_text = "today's sales are not imported yet"
        shown, color = views.metric_delta(key, value, before)
        column.metric(
            label,
            metric_value(value, fmt),
            shown,
            delta_color=color,  # grey when the change rounds to zero
            delta_arrow=views.delta_arrow(shown),
            help=help_text,
        )
