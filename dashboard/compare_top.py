"""Which stores the Compare page's charts draw when the leaderboard is long.

A chart of 5,000 bars or 5,000 trend lines says nothing and costs the browser seconds
(every trace is drawn; benchmarks/profile_pages.py). The table keeps every store (sortable,
exported as shown); the charts draw the leaders and the laggards of the chosen KPI, and
say so. Polars only: no Streamlit, no SQL.
"""

from __future__ import annotations

import polars as pl

TOP_N = 10  # bars: the 10 highest and the 10 lowest of the KPI
TREND_N = 6  # trend panels: the 6 highest and the 6 lowest (12 stores: every one)


def top_and_bottom(table: pl.DataFrame, kpi: str, n: int) -> list[str]:
    """Store ids of the ``n`` highest and ``n`` lowest values of ``kpi`` (stores without a
    value left out), highest first; every store when there are no more than ``2 * n``."""
    if kpi not in table.columns or table.is_empty():
        return []
    ranked = table.drop_nulls(kpi).sort([kpi, "store_id"], descending=[True, False])
    ids = ranked["store_id"].to_list()
    if len(ids) <= 2 * n:
        return ids
    return ids[:n] + ids[-n:]


def chart_rows(table: pl.DataFrame, kpi: str, n: int) -> tuple[pl.DataFrame, str]:
    """The rows a chart of ``kpi`` draws and a note for its caption ("" when every store
    is drawn)."""
    keep = top_and_bottom(table, kpi, n)
    valued = table.drop_nulls(kpi).height if kpi in table.columns else 0
    if len(keep) >= valued:
        return table.filter(pl.col("store_id").is_in(keep)), ""
    note = f"the {n} highest and the {n} lowest of {valued:,} stores; every store is in the table"
    return table.filter(pl.col("store_id").is_in(keep)), note


def trend_stores(table: pl.DataFrame, kpi: str, n: int) -> list[str]:
    """Store ids the trend draws, sorted: every store of ``table`` up to ``2 * n`` (with or
    without a value), else the ``n`` highest and ``n`` lowest of ``kpi``."""
    if table.height <= 2 * n:
        return sorted(table["store_id"].to_list())
    return sorted(top_and_bottom(table, kpi, n))
