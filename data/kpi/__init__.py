"""KPIs as polars frames, each defined as in DESIGN.md "KPI definitions": the room's public face.

Import from here (``from storelens.data import kpi``; ``kpi.store_comparison(...)``); the
code lives in the submodules, which import each other directly, never through this file:

- :mod:`~storelens.data.kpi.scope`: :class:`KpiFilter` (stores, store-local days,
  granularity), :class:`Scope` (the stores a user may see), :func:`resolve_stores`.
- :mod:`~storelens.data.kpi.definitions`: each KPI once, as a polars expression over
  summed metrics (:func:`kpi_exprs`), and how any grain is made (:func:`summarize`,
  :func:`with_kpis`, :func:`totals`).
- :mod:`~storelens.data.kpi.series`: the KPI series per store and bucket (traffic, sales,
  satisfaction, alerts, staff), read through named queries.
- :mod:`~storelens.data.kpi.staffing`: recommended vs scheduled staff (Erlang C).
- :mod:`~storelens.data.kpi.comparison`: stores side by side, one store's headline.
- :mod:`~storelens.data.kpi.live`: what the cameras see now.
- :mod:`~storelens.data.kpi.presentation`: each KPI's label, formats and which way is
  better (:data:`PRESENTATION`), read by every page.
- :mod:`~storelens.data.kpi.score`: the store score (:func:`median_deviation_score`).

The metrics (additive rollup columns) are defined once in
:mod:`storelens.data.vocabulary`; pages use nothing but these functions.
"""

from storelens.data.kpi.comparison import HEADLINE_FIGURES, headline, store_comparison
from storelens.data.kpi.definitions import (
    QUEUE_INTACT_SHARE,
    Z95,
    change_pct,
    kpi_exprs,
    queue_wait_exprs,
    ratio,
    satisfaction_exprs,
    summarize,
    totals,
    with_kpis,
)
from storelens.data.kpi.live import latest_counts, people_per_minute
from storelens.data.kpi.presentation import PRESENTATION, Presentation, headline_rows
from storelens.data.kpi.scope import (
    MIN_GROUP,
    VALID_GRANULARITY,
    Granularity,
    KpiFilter,
    Scope,
    resolve_stores,
)
from storelens.data.kpi.score import (
    SCORE_KPIS,
    Deviation,
    deviations_from_median,
    median_deviation_score,
    score_kpis,
)
from storelens.data.kpi.series import (
    alert_list,
    conversion,
    dwell,
    frustration_alerts,
    labour_cost,
    metrics,
    occupancy,
    queue,
    sales_per_visitor,
    satisfaction,
    star,
    visitors,
    zone_metrics,
)
from storelens.data.kpi.staffing import (
    StaffingTargets,
    erlang_c_mean_wait_s,
    erlang_c_servers,
    erlang_c_wait_probability,
    staffing,
    staffing_summary,
)

__all__ = [
    "HEADLINE_FIGURES",
    "MIN_GROUP",
    "PRESENTATION",
    "QUEUE_INTACT_SHARE",
    "SCORE_KPIS",
    "VALID_GRANULARITY",
    "Z95",
    "Deviation",
    "Granularity",
    "KpiFilter",
    "Presentation",
    "Scope",
    "StaffingTargets",
    "alert_list",
    "change_pct",
    "conversion",
    "deviations_from_median",
    "dwell",
    "erlang_c_mean_wait_s",
    "erlang_c_servers",
    "erlang_c_wait_probability",
    "frustration_alerts",
    "headline",
    "headline_rows",
    "kpi_exprs",
    "labour_cost",
    "latest_counts",
    "median_deviation_score",
    "metrics",
    "occupancy",
    "people_per_minute",
    "queue",
    "queue_wait_exprs",
    "ratio",
    "resolve_stores",
    "sales_per_visitor",
    "satisfaction",
    "satisfaction_exprs",
    "score_kpis",
    "staffing",
    "staffing_summary",
    "star",
    "store_comparison",
    "summarize",
    "totals",
    "visitors",
    "with_kpis",
    "zone_metrics",
]
