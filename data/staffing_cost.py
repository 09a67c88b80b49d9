"""Which hourly staff cost the Staffing page uses, and how much it is.

One source per page: the store's imported shift costs (labour cost ÷ staff hours over the
period, the rate behind "Labour cost / visitor") whenever shifts with a cost are imported for
the period; only without them the € per staff-hour the user sets. The page says which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storelens.data import kpi
from storelens.data.reader import Reader

CostSource = Literal["imported shift costs", "hourly cost set on this page"]


@dataclass(frozen=True)
class StaffCost:
    source: CostSource
    rate: float  # € per staff-hour
    staff_hours: float  # imported staff hours behind the rate (0 for the page's own rate)


def staff_cost(reader: Reader, flt: kpi.KpiFilter, scope: kpi.Scope, page_rate: float) -> StaffCost:
    """The imported shifts' mean € per staff-hour over ``flt``, else ``page_rate``."""
    frame = kpi.metrics(reader, flt.with_(granularity="day"), scope)
    hours = float(frame["staff_hours"].sum()) if frame.height else 0.0
    cost = float(frame["labour_cost"].sum()) if frame.height else 0.0
    if hours > 0 and cost > 0:
        return StaffCost("imported shift costs", cost / hours, hours)
    return StaffCost("hourly cost set on this page", page_rate, 0.0)
