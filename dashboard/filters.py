"""Filters (store, date range, granularity) that live in the URL so a view is a link.

The URL is *input*, never authority: a store id read from it is only a request. Pages pass
it to the KPI functions together with the user's :class:`~data.kpi.Scope`, and the data
layer refuses stores outside the scope (a forged ``?store=`` ends in "access denied").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta

import streamlit as st
from storelens.data.storetime import now_utc

GRANULARITIES = ("hour", "day", "week")
MAX_RANGE_DAYS = 366
_MEMORY = "storelens_filters"  # last filters of this session, for links between pages


@dataclass(frozen=True)
class Filters:
    store: str | None
    start: date
    end: date
    granularity: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def parse_filters(
    params: Mapping[str, str],
    today: date,
    default_days: int = 7,
    default_granularity: str = "day",
    complete_days: bool = False,
) -> tuple[Filters, list[str]]:
    """Filters from URL parameters; bad values fall back to defaults with a warning each.

    With ``complete_days`` the default range ends yesterday: today has no shifts or sales
    imported yet, so a range through today reads as under-staffed or 0 % conversion.
    """
    warnings: list[str] = []
    last = today - timedelta(days=1) if complete_days else today
    default = Filters(None, last - timedelta(days=default_days - 1), last, default_granularity)

    def day(name: str, fallback: date) -> date:
        raw = params.get(name)
        if not raw:
            return fallback
        try:
            return date.fromisoformat(raw)
        except ValueError:
            warnings.append(f"ignored {name}={raw!r}: not a date (use YYYY-MM-DD)")
            return fallback

    start, end = day("from", default.start), day("to", default.end)
    if end < start:
        warnings.append(f"ignored from={start} to={end}: the range ends before it starts")
        start, end = default.start, default.end
    if (end - start).days >= MAX_RANGE_DAYS:
        warnings.append(f"range shortened to {MAX_RANGE_DAYS} days")
        start = end - timedelta(days=MAX_RANGE_DAYS - 1)
    granularity = params.get("granularity") or default_granularity
    if granularity not in GRANULARITIES:
        warnings.append(f"ignored granularity={granularity!r}: use one of {GRANULARITIES}")
        granularity = default_granularity
    store = (params.get("store") or "").strip() or None
    return Filters(store, start, end, granularity), warnings


def _to_url(**values: str) -> None:
    for name, value in values.items():
        if st.query_params.get(name) != value:
            st.query_params[name] = value


def _on_store() -> None:
    value = st.session_state.get("f_store")
    if value:
        _to_url(store=value)


def _on_dates() -> None:
    value = st.session_state.get("f_dates")
    if isinstance(value, tuple | list) and len(value) == 2:
        _to_url(**{"from": value[0].isoformat(), "to": value[1].isoformat()})


def _on_granularity() -> None:
    value = st.session_state.get("f_granularity")
    if value:
        _to_url(granularity=value)


def filter_bar(
    allowed_stores: list[str],
    *,
    store: bool = True,
    dates: bool = True,
    granularity: bool = True,
    default_days: int = 7,
    default_granularity: str = "day",
    today: date | None = None,
    complete_days: bool = False,
    names: Mapping[str, str] | None = None,
) -> Filters:
    """Render the sidebar filters and keep them in ``st.query_params``.

    ``names`` (store id -> name, e.g. ``PageContext.store_names()``) labels the store
    picker with names; the URL keeps the id.

    Returns the *requested* filters. ``Filters.store`` may be a store outside
    ``allowed_stores`` when the URL names one: the caller must pass it to the data layer
    with the user's scope (which denies it), never treat it as allowed.
    """
    today = today or _today()
    memory: dict[str, str] = st.session_state.get(_MEMORY, {})
    params = {**memory, **{k: st.query_params.get(k) for k in st.query_params}}
    flt, warnings = parse_filters(params, today, default_days, default_granularity, complete_days)
    if store and flt.store is None and allowed_stores:
        flt = replace(flt, store=allowed_stores[0])
    for warning in warnings:
        st.warning(warning)
    # Widgets take their initial value from the URL; their callbacks write changes back to
    # the URL, so URL and widgets agree on every run.
    with st.sidebar:
        if store:
            index = allowed_stores.index(flt.store) if flt.store in allowed_stores else None
            st.selectbox(
                "Store",
                allowed_stores,
                index=index,
                key="f_store",
                on_change=_on_store,
                placeholder="choose a store",
                format_func=(lambda s: f"{names.get(s) or s}") if names else str,
            )
        if dates:
            st.date_input(
                "Dates",
                (flt.start, flt.end),
                key="f_dates",
                on_change=_on_dates,
                max_value=max(today, flt.end),
            )
        if granularity:
            st.segmented_control(
                "Granularity",
                GRANULARITIES,
                default=flt.granularity,
                key="f_granularity",
                on_change=_on_granularity,
            )
    url: dict[str, str] = {}
    if dates:
        url.update({"from": flt.start.isoformat(), "to": flt.end.isoformat()})
    if granularity:
        url["granularity"] = flt.granularity
    if store and flt.store:
        url["store"] = flt.store
    _to_url(**url)
    remembered = {**memory, **url}
    if store and flt.store not in allowed_stores:
        # A store outside the scope (a forged ?store=) is refused on this page; it must not
        # follow the user to the next page as if it had been chosen there.
        remembered.pop("store", None)
    st.session_state[_MEMORY] = remembered
    return flt


PARTIAL_NOTE = (
    "Today is not over: its visitors, sales and shifts are counted so far only "
    "(sales and shifts arrive with their imports), so today's figures are partial."
)


def _today() -> date:
    """Today on this server's clock (through the one clock, so STORELENS_NOW fixes it)."""
    return now_utc().astimezone().date()


def includes_today(flt: Filters, today: date | None = None) -> bool:
    """Whether the period reaches today (a partial day)."""
    return flt.end >= (today or _today())
