"""Median response time per store (issue 19 item 7): the time from an alert being raised to
a member of staff acknowledging it (``alerts.response_s``, stored at acknowledgement), for
Compare's "median response time" column.

The median, not the mean: one alert left open over lunch must not hide that the store
answers most alerts in two minutes. Alerts nobody acknowledged have no response time; the
count of those raised and acknowledged stands beside it. In chain mode the lake reader
answers the same named query from the response seconds each store publishes with its alert
counts (data/lake/tables.py, "Response times"): the same median as the store's own
database. No alert in the period: no figure, null, shown as "—".
"""

from __future__ import annotations

import polars as pl
from storelens.data.errors import DataError
from storelens.data.kpi import KpiFilter, Scope, resolve_stores
from storelens.data.reader import Reader

COLUMNS = {
    "store_id": pl.String,
    "median_response_min": pl.Float64,
    "alerts_raised": pl.Int64,
    "alerts_acknowledged": pl.Int64,
}


def median_response(reader: Reader, flt: KpiFilter, scope: Scope) -> pl.DataFrame:
    """store_id, median_response_min, alerts_raised, alerts_acknowledged for the stores of
    ``flt`` in ``scope`` over its store-local days (no row: no alert in the period)."""
    stores = resolve_stores(reader, flt, scope)
    empty = pl.DataFrame(schema=COLUMNS)
    if not stores:
        return empty
    try:
        frame = reader.query(
            "alert_response", {"stores": stores, "start": flt.start, "end": flt.end}
        )
    except DataError:
        # An older pipeline's read API without this query: no figure rather than no page.
        return empty
    return frame.select(
        "store_id",
        (pl.col("median_response_s") / 60.0).alias("median_response_min"),
        pl.col("alerts_raised").cast(pl.Int64),
        pl.col("alerts_acknowledged").cast(pl.Int64),
    )
