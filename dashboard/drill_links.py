"""Pieces the Compare page adds for issue 22: the funnel column and the links into the
Drill-down page (a store, with the period, kept in the URL)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import polars as pl
import streamlit as st
from storelens.data import funnel

DRILL_PAGE = "screens/drill.py"
FUNNEL_HELP = "traffic → zone visits → queue joins → transactions over the period"


def with_funnel(shown: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """``shown`` plus a ``funnel`` list column (the four step counts of each store, from the
    comparison ``table``'s summed metrics), for a bar-chart cell. Display only: a list has
    no CSV cell, so exports keep ``shown`` as it was."""
    if shown.is_empty() or "store_id" not in table.columns:
        return shown
    steps = table.select("store_id").with_columns(funnel.funnel_list(table))
    return shown.join(steps, on="store_id", how="left", maintain_order="left")


def funnel_column() -> st.column_config.Column:
    return st.column_config.BarChartColumn("Funnel", help=FUNNEL_HELP, y_min=0)


def drill_links(
    stores: list[str],
    start: date,
    end: date,
    per_row: int = 6,
    names: Mapping[str, str | None] | None = None,
) -> None:
    """One link per store into the Drill-down page (store → day → hour), labelled with the
    store's name from ``names`` (id -> name) where it has one; the link keeps the id."""
    if not stores:
        return
    st.caption("Drill into a store (then a day, then an hour):")
    cols = st.columns(per_row)
    for i, store in enumerate(stores):
        cols[i % per_row].page_link(
            DRILL_PAGE,
            label=(names or {}).get(store) or store,
            icon=":material/troubleshoot:",
            query_params={"store": store, "from": start.isoformat(), "to": end.isoformat()},
        )
