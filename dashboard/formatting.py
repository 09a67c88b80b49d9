"""How every table and metric a user sees shows numbers and missing values (issue 19 item 10).

Streamlit draws a null cell as "None" and a missing metric as "None"/"nan" unless told
otherwise; people read that as a bug, not as "no figure". Every page therefore draws its
tables through :func:`table` (missing → "—", numbers with thousands separators unless a
column says its own format) and its metric values through :func:`metric_value`. The colour
of a metric's change is decided once, by ``views.metric_delta``.

Streamlit only: no SQL, no vision. The numbers stay numbers in the table (sortable,
exported as they are); only their display changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import polars as pl
import streamlit as st

MISSING = "—"

# A number format for a column the page gave no format: grouped thousands in the
# browser's locale ("12,345" / "12.345"), so a count of visitors is readable at a glance.
_READABLE = "localized"


def is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def metric_value(value: Any, fmt: str | Callable[[Any], str] = "{:,}") -> str:
    """``value`` formatted for ``st.metric``; "—" when there is no figure (None or NaN)."""
    if is_missing(value):
        return MISSING
    return fmt(value) if callable(fmt) else fmt.format(value)


def _numeric_config(label: Any, config: Any) -> Any:
    """The page's config for a numeric column, with a readable format if it set none."""
    if config is None:
        return st.column_config.NumberColumn(label, format=_READABLE)
    if isinstance(config, str):  # a bare label
        return st.column_config.NumberColumn(config, format=_READABLE)
    if isinstance(config, dict):
        number = st.column_config.NumberColumn(format=_READABLE)["type_config"]
        typed = config.get("type_config")
        if typed is None:  # a label or help only
            return {**config, "type_config": number}
        if typed.get("type") == "number" and not typed.get("format"):
            return {**config, "type_config": {**typed, "format": _READABLE}}
    return config  # the page chose a column type and format itself


def column_config(frame: pl.DataFrame, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """``given`` plus a thousands-separated format for every numeric column without one."""
    out: dict[str, Any] = dict(given or {})
    for name, dtype in frame.schema.items():
        if dtype.is_numeric():
            out[name] = _numeric_config(None, out.get(name))
    return out


def table(where: Any, frame: pl.DataFrame, **kwargs: Any) -> Any:
    """``where.dataframe(frame)`` (``where`` is ``st`` or a column/container) with missing
    cells drawn "—" and readable numbers; keyword arguments go to ``st.dataframe``."""
    kwargs.setdefault("hide_index", True)
    kwargs["column_config"] = column_config(frame, kwargs.get("column_config"))
    return where.dataframe(frame, placeholder=MISSING, **kwargs)
