"""The store score: how far a store's KPIs sit from the median store's, in one number.

Per KPI, a store's deviation from the median store is relative, ``(value − median) /
|median|`` (for an index such as satisfaction: ``(value − median) / points``, see
:attr:`~storelens.data.kpi.presentation.Presentation.points`), signed so that better is
positive and clipped to ±1 so one KPI cannot swamp the rest. The score is
``50 + 50 × the mean clipped deviation``: 0–100, 50 = a store at the median on average,
100 = at least twice the median (or a full index scale better) on every KPI. It is not a
percentile: one store far ahead on one KPI moves its score more than a rank would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
from storelens.data.kpi.presentation import PRESENTATION

# The KPIs the score averages (store_comparison columns).
SCORE_KPIS = (
    "conversion",
    "sales_per_visitor",
    "satisfaction_index",
    "queue_wait_s_avg",
    "labour_cost_per_visitor",
    "visitors_per_m2",
)


@dataclass(frozen=True)
class Deviation:
    """One store's distance from the median store on one KPI."""

    kpi: str
    value: float
    median: float
    relative: float  # (value − median) / |median|, or / points for an index
    signed: float  # ``relative``, positive where the store does better

    @property
    def clipped(self) -> float:
        return max(-1.0, min(1.0, self.signed))


def deviations_from_median(
    comparison: pl.DataFrame, kpis: Iterable[tuple[str, bool]]
) -> list[list[Deviation]]:
    """Per row of ``comparison`` (one store each), its deviation on each of ``kpis``
    ((column, higher is better) pairs). A KPI is left out where the column is missing or
    every value is null, where its median is 0 (no relative change from zero), and for a
    store without a value."""
    out: list[list[Deviation]] = [[] for _ in range(comparison.height)]
    for column, higher_better in kpis:
        if column not in comparison.columns:
            continue
        values = comparison[column].cast(pl.Float64)
        median = values.median()
        if median is None:
            continue
        look = PRESENTATION.get(column)
        points = look.points if look else None
        if points is None and median == 0:
            continue
        for i, v in enumerate(values.to_list()):
            if v is None:
                continue
            rel = (v - median) / points if points else (v - median) / abs(median)
            out[i].append(Deviation(column, v, median, rel, rel if higher_better else -rel))
    return out


def median_deviation_score(deviations: Sequence[Deviation]) -> float:
    """THE store score: 50 + 50 × the mean of the clipped signed deviations (50 when the
    store has none)."""
    if not deviations:
        return 50.0
    return 50.0 + 50.0 * sum(d.clipped for d in deviations) / len(deviations)


def score_kpis() -> list[tuple[str, bool]]:
    """:data:`SCORE_KPIS` with their direction from the presentation table."""
    return [(k, bool(PRESENTATION[k].higher_is_better)) for k in SCORE_KPIS]
