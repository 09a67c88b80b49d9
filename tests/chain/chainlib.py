"""Helpers of the chain-mode tests (imported as tests.chain.chainlib: with pytest's
importlib mode a conftest is not importable by name)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import polars as pl

END = date(2026, 3, 1)
DAYS = 8
STORES = 5  # demo + s04 in Central, s01..s03 in North


def assert_same_frame(left: pl.DataFrame, right: pl.DataFrame) -> None:
    """Same columns, types and rows; floats equal to 1e-9 relative.

    Sums of doubles differ in the last bits with DuckDB's parallel aggregation order, so
    exact float equality is not the contract; money is then also equal to the cent.
    """
    assert left.columns == right.columns
    assert left.dtypes == right.dtypes
    assert left.height == right.height, (left.height, right.height)
    for a_row, b_row in zip(left.rows(), right.rows(), strict=True):
        for a, b in zip(a_row, b_row, strict=True):
            if isinstance(a, float) and isinstance(b, float):
                assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9), (a_row, b_row)
            else:
                assert a == b, (a_row, b_row)


def lake_objects(root: Path) -> dict[str, bytes]:
    """Every visible object in a local lake (readers skip dot and underscore files)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith((".", "_")):
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out
