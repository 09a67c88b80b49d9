"""Recommended rota for one store and day: staff per opening hour from the traffic forecast,
turned into shifts of allowed lengths, costed, and set beside the imported shifts.

Staff needed in an hour uses the same rule as the Staffing page (``data.kpi``):
max(⌈visitors ÷ target STAR⌉, Erlang C checkout servers for the hour's expected
transactions at the target wait, the minimum staff), with the forecast's point value as
visitors and the store's conversion over the last four weeks for transactions.

Shifts (a greedy cover, not an optimum): walking through the day, whenever fewer people
are on shift than needed, a shift that ends just then is lengthened by an hour if it is
under ``max_shift_hours``; otherwise a shift starts and runs while the need stays at least
at its level, held between the store's ``min_shift_hours`` and ``max_shift_hours`` (and
inside opening hours: a shift that would run past closing starts earlier). A minimum
length can leave someone on an hour that needs no one more; the cost counts it.

The CSV export is the shift-import format (``storelens import shifts``), store-local
times without offset, one id per shift so importing it twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl
from storelens.data.errors import InvalidParams
from storelens.data.forecast import Backtest, StoreHistory, backtest, forecast_store, load_history
from storelens.data.kpi import KpiFilter, Scope, StaffingTargets, erlang_c_servers, metrics
from storelens.data.reader import Reader
from storelens.kernel.config import StoreConfig

RATE_WEEKS = 4  # conversion and hourly rate: the store's last four weeks
CSV_COLUMNS = ("shift_id", "store_id", "staff_role", "start_ts", "end_ts", "hourly_cost")


@dataclass(frozen=True)
class RotaRules:
    """Shift lengths (from the store config) and the staffing targets."""

    min_shift_hours: int = 4
    max_shift_hours: int = 8
    targets: StaffingTargets = field(default_factory=StaffingTargets)

    def __post_init__(self) -> None:
        for name in ("min_shift_hours", "max_shift_hours"):
            value = getattr(self, name)
            if not 1 <= value <= 12:
                raise InvalidParams(f"{name} must be 1..12 hours, got {value}")
        if self.min_shift_hours > self.max_shift_hours:
            raise InvalidParams(
                f"min_shift_hours {self.min_shift_hours} is above max_shift_hours "
                f"{self.max_shift_hours}; make min <= max"
            )


def rules_for(
    store_id: str, store: StoreConfig | None, targets: StaffingTargets | None = None
) -> tuple[RotaRules, str | None]:
    """(shift rules, holiday country) for ``store_id``: the config's ``[store]`` where it is
    that store, else the defaults (the demo history's other stores have no config)."""
    targets = targets or StaffingTargets()
    if store is None or store.store_id != store_id:
        return RotaRules(targets=targets), None
    return RotaRules(store.min_shift_hours, store.max_shift_hours, targets), store.country


@dataclass(frozen=True)
class Shift:
    start_hour: int  # store-local, on the rota's day
    end_hour: int
    role: str

    @property
    def hours(self) -> int:
        return self.end_hour - self.start_hour


@dataclass(frozen=True)
class Rota:
    store_id: str
    day: date
    holiday: str | None
    rate: float  # € per staff hour: the store's imported shifts, else the default
    hours: pl.DataFrame  # hour, forecast, lo, hi, staff_recommended, staff_planned, diff
    shifts: list[Shift]
    backtest: Backtest
    rules: RotaRules

    @property
    def cost_recommended(self) -> float:
        return sum(s.hours for s in self.shifts) * self.rate

    @property
    def cost_planned(self) -> float:
        return float(self.hours["staff_planned"].sum()) * self.rate

    def gaps(self) -> list[str]:
        """Where the imported shifts differ from the recommendation, in runs of hours."""
        if float(self.hours["staff_planned"].sum()) == 0:
            return [f"no shifts imported for {self.day}: every hour is short"]
        out = []
        rows = self.hours.select("hour", "diff").rows()
        i = 0
        while i < len(rows):
            sign = _sign(rows[i][1])
            j = i
            while j + 1 < len(rows) and _sign(rows[j + 1][1]) == sign:
                j += 1
            run = [d for _, d in rows[i : j + 1]]
            span = f"{rows[i][0]}–{rows[j][0] + 1}"
            if sign < 0:
                people = math.ceil(max(-d for d in run) - 1e-9)
                out.append(f"{people} {'person' if people == 1 else 'people'} short {span}")
            elif sign > 0:
                out.append(f"€{sum(run) * self.rate:,.0f} over {span}")
            i = j + 1
        return out or ["the imported shifts match the recommendation"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "store_id": self.store_id,
            "date": self.day.isoformat(),
            "holiday": self.holiday,
            "hours": [
                {
                    "hour": r["hour"],
                    "forecast": round(r["forecast"], 1),
                    "interval": [round(r["lo"], 1), round(r["hi"], 1)],
                    "staff_recommended": r["staff_recommended"],
                    "staff_planned": round(r["staff_planned"], 2),
                }
                for r in self.hours.iter_rows(named=True)
            ],
            "shifts": [
                {
                    "start": f"{s.start_hour:02d}:00",
                    "end": f"{s.end_hour:02d}:00",
                    "hours": s.hours,
                    "role": s.role,
                    "cost": round(s.hours * self.rate, 2),
                }
                for s in self.shifts
            ],
            "cost": {
                "hourly_rate": round(self.rate, 2),
                "recommended": round(self.cost_recommended, 2),
                "planned": round(self.cost_planned, 2),
                "difference": round(self.cost_planned - self.cost_recommended, 2),
            },
            "shift_hours": [self.rules.min_shift_hours, self.rules.max_shift_hours],
            "comparison": self.gaps(),
            "backtest": self.backtest.as_dict(),
        }

    def to_csv(self) -> str:
        """The rota in the shift-import format (store-local times, no offset)."""
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for i, s in enumerate(self.shifts):
            start = _local(self.day, s.start_hour)
            end = _local(self.day, s.end_hour)
            shift_id = f"rota-{self.store_id}-{self.day}-{i + 1}"
            writer.writerow([shift_id, self.store_id, s.role, start, end, f"{self.rate:.2f}"])
        return buf.getvalue()


def _sign(diff: float) -> int:
    # Under a whole person short or over is noise from fractional shift hours.
    return -1 if diff <= -1 else (1 if diff >= 1 else 0)


def _local(day: date, hour: int) -> str:
    day = day + timedelta(days=hour // 24)  # 24:00 is midnight of the next day
    return f"{day.isoformat()}T{hour % 24:02d}:00:00"


# ------------------------------------------------------------------------- planning


def staff_needed(visitors: float, conversion: float, targets: StaffingTargets) -> tuple[int, int]:
    """(staff needed, of whom at the checkout) for one hour of ``visitors``."""
    checkout = erlang_c_servers(
        visitors * conversion, targets.service_time_s, targets.target_wait_s
    )
    star = math.ceil(visitors / targets.target_star - 1e-9)
    return max(star, checkout, targets.min_staff), checkout


def plan_shifts(
    needed: list[int], checkout: list[int], open_hour: int, rules: RotaRules
) -> list[Shift]:
    """Shifts covering ``needed[i]`` people in hour ``open_hour + i`` (see module doc)."""
    n = len(needed)
    length_min = min(rules.min_shift_hours, n)
    on = [0] * n
    spans: list[list[int]] = []  # [start, end, level at start], hour indexes from opening
    for h in range(n):
        while on[h] < needed[h]:
            # A shift ending just now and not yet at the longest: one more hour of it is
            # cheaper than a new shift that a minimum length would drag past the need.
            open_ended = [s for s in spans if s[1] == h and s[1] - s[0] < rules.max_shift_hours]
            if open_ended:
                open_ended[0][1] += 1
                on[h] += 1
                continue
            level = on[h] + 1
            run = 1
            while h + run < n and needed[h + run] >= level and run < rules.max_shift_hours:
                run += 1
            length = max(run, length_min)
            start = min(h, n - length)  # too close to closing: start earlier
            for k in range(start, start + length):
                on[k] += 1
            spans.append([start, start + length, level])
    shifts = [
        Shift(
            open_hour + a,
            open_hour + b,
            "cashier" if level <= max(checkout[a:b], default=0) else "associate",
        )
        for a, b, level in spans
    ]
    return sorted(shifts, key=lambda s: (s.start_hour, s.end_hour, s.role))


def _store_rates(
    reader: Reader, store_id: str, day: date, history: StoreHistory, scope: Scope
) -> tuple[float, float, float]:
    """(conversion, € per staff hour, default used?) over the last RATE_WEEKS weeks of history."""
    end = min(day - timedelta(days=1), history.last_day)
    flt = KpiFilter(end - timedelta(weeks=RATE_WEEKS) + timedelta(days=1), end, (store_id,), "day")
    m = metrics(reader, flt, scope)
    visitors = float(m["visitors"].sum() or 0)
    conversion = float(m["transactions"].sum() or 0) / visitors if visitors else 0.0
    staff_hours = float(m["staff_hours"].sum() or 0)
    rate = float(m["labour_cost"].sum() or 0) / staff_hours if staff_hours else 0.0
    return min(max(conversion, 0.0), 1.0), rate, staff_hours


def planned_staff(reader: Reader, store_id: str, day: date, scope: Scope) -> dict[int, float]:
    """Imported staff on shift per store-local hour of ``day`` (staff hours in that hour)."""
    m = metrics(reader, KpiFilter(day, day, (store_id,), "hour"), scope)
    return {b.hour: float(s) for b, s in m.select("bucket", "staff_hours").rows() if s is not None}


def plan_rota(
    reader: Reader,
    store_id: str,
    day: date,
    scope: Scope,
    rules: RotaRules | None = None,
    country: str | None = None,
    today: date | None = None,
) -> Rota:
    """The recommended rota of ``store_id`` on ``day`` (a past day within the history, or up
    to 14 days after it), with the store's backtest. Errors name the value and the fix."""
    rules = rules or RotaRules()
    history = load_history(reader, store_id, scope, country=country, today=today)
    hours = forecast_store(history, day, days=1)
    conversion, rate, _ = _store_rates(reader, store_id, day, history, scope)
    if rate <= 0:
        rate = rules.targets.default_hourly_cost
    need = [staff_needed(v, conversion, rules.targets) for v in hours["forecast"].to_list()]
    needed, checkout = [n for n, _ in need], [c for _, c in need]
    shifts = plan_shifts(needed, checkout, history.open_hour, rules)
    planned = planned_staff(reader, store_id, day, scope)
    frame = hours.with_columns(
        pl.Series("staff_recommended", needed, dtype=pl.Int64),
        pl.col("hour")
        .replace_strict(planned, default=0.0, return_dtype=pl.Float64)
        .alias("staff_planned"),
    ).with_columns((pl.col("staff_planned") - pl.col("staff_recommended")).alias("diff"))
    return Rota(
        store_id=store_id,
        day=day,
        holiday=hours["holiday"][0],
        rate=rate,
        hours=frame.select(
            "hour", "forecast", "lo", "hi", "staff_recommended", "staff_planned", "diff"
        ),
        shifts=shifts,
        backtest=backtest(history),
        rules=rules,
    )
