"""Implausible import rows, judged against the store's own history.

A receipt of €99,999,999 parses and is > 0, so the row checks in :mod:`data.imports` accept
it, and one such row makes a week's sales per visitor absurd. So each valid row is also
compared with what the store has imported before: a receipt (or an hourly staff cost) more
than :data:`FACTOR` times the store's 99th percentile is *flagged*. A flagged file is not
written unless the caller confirms (``storelens import ... --force``, or the confirm
button on Setup → Imports): a real €40,000 order can still be imported, knowingly.

A store with fewer than :data:`MIN_HISTORY` earlier rows has no history to speak of: the
file's own rows of that store are the reference when there are enough of them, else a fixed
ceiling (:data:`CEILING`) that no ordinary receipt or wage reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

FACTOR = 10.0  # flagged above FACTOR × the store's 99th percentile
MIN_HISTORY = 30  # rows of the store before its own percentile is trusted
CEILING = {"sales": 100_000.0, "shifts": 500.0}  # € per receipt / € per staff hour
_WHAT = {
    "sales": ("amount", "transactions", "receipt"),
    "shifts": ("hourly_cost", "shifts", "hourly cost"),
}


@dataclass(frozen=True)
class Flag:
    index: int  # 0-based row of the validated batch
    reason: str


def _history(
    con: duckdb.DuckDBPyConnection, kind: str, stores: list[str]
) -> dict[str, tuple[int, float]]:
    column, table, _ = _WHAT[kind]
    rows = con.execute(
        f"""SELECT store_id, count(*), quantile_cont({column}, 0.99) FROM {table}
            WHERE list_contains($stores, store_id) GROUP BY store_id""",
        {"stores": stores},
    ).fetchall()
    return {r[0]: (int(r[1]), float(r[2])) for r in rows}


def _quantile99(values: list[float]) -> float:
    ordered = sorted(values)
    pos = 0.99 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def implausible_rows(con: duckdb.DuckDBPyConnection, kind: str, batch: pa.Table) -> list[Flag]:
    """Rows of a validated ``batch`` far above the store's own usual values."""
    if batch.num_rows == 0:
        return []
    column, _, noun = _WHAT[kind]
    stores = batch.column("store_id").to_pylist()
    values = [float(v) for v in batch.column(column).to_pylist()]
    history = _history(con, kind, sorted(set(stores)))
    in_file: dict[str, list[float]] = {}
    for store, value in zip(stores, values, strict=True):
        in_file.setdefault(store, []).append(value)
    limits: dict[str, tuple[float, str]] = {}
    for store, own in in_file.items():
        count, p99 = history.get(store, (0, 0.0))
        if count >= MIN_HISTORY and p99 > 0:
            basis = f"this store's 99th percentile €{p99:,.2f} over {count:,} earlier rows"
        elif len(own) >= MIN_HISTORY and _quantile99(own) > 0:
            p99 = _quantile99(own)
            basis = f"the 99th percentile €{p99:,.2f} of this file's {len(own):,} rows of the store"
        else:
            limits[store] = (
                CEILING[kind],
                f"no history to compare with; ceiling €{CEILING[kind]:,.0f}",
            )
            continue
        limits[store] = (FACTOR * p99, f"more than {FACTOR:.0f} × {basis}")
    flags = []
    for index, (store, value) in enumerate(zip(stores, values, strict=True)):
        limit, why = limits[store]
        if value > limit:
            flags.append(
                Flag(index, f"{noun} €{value:,.2f} for store {store!r} is implausible: {why}")
            )
    return flags
