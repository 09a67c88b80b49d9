"""Traffic forecast per store and opening hour, 14 days ahead, with an 80 % interval.

The model is statsforecast's MSTL (a library, not ours): the opening hours of each day are
laid end to end as one series, decomposed into a daily season (one opening day) and a
weekly one (seven opening days, so each weekday × hour has its own shape), and the rest
(level and trend) is forecast by AutoETS without a season, which also gives the interval.
It was chosen by backtest over MSTL with AutoARIMA or AutoTheta as trend model: the same or
better WAPE on the demo stores, the 80 % interval held ~80 % of hours (ARIMA's ~65 %),
and 3-4× faster (README "Traffic forecast" has the table and the command).

Public holidays come from the ``holidays`` package by the store's country (the config's
``store.country``, else the country of the store's IANA time zone from the system's
``zone.tab``). Hours of a past holiday are replaced by the same hour a week earlier before
fitting, so one odd day does not bend the weekly season; forecast days that are holidays are
named in the ``holiday`` column (a store may close or run another pattern then: the model
has too few past holidays to learn their effect, so it says so instead of guessing).

Backtest: rolling origin, one origin a week over the last ``BACKTEST_WEEKS`` weeks, each
forecasting the next 7 days, scored by WAPE = Σ|actual − forecast| / Σ actual against the
naive forecast "same hour last week" (statsforecast's SeasonalNaive over one week).

This module reads through a :class:`~data.reader.Reader` and knows no SQL and no UI.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import TZPATH

import numpy as np
import polars as pl
from storelens.data.errors import InvalidParams
from storelens.data.kpi import KpiFilter, Scope, metrics, resolve_stores, zone_metrics
from storelens.data.reader import Reader
from storelens.data.storetime import store_today

log = logging.getLogger(__name__)

HORIZON_DAYS = 14  # how far ahead a forecast may reach after the last complete day
BACKTEST_WEEKS = 8  # rolling origins, one a week
LEVEL = 80  # the interval, in %
MIN_TRAIN_DAYS = 28  # MSTL needs two weekly seasons; four keep the trend honest
MAX_HISTORY_DAYS = 365  # older hours add fitting time and little for a two-week forecast


@dataclass(frozen=True)
class StoreHistory:
    """One store's hourly traffic over its complete days (``frame``: bucket, visitors)."""

    store_id: str
    open_hour: int
    close_hour: int
    timezone: str
    country: str | None
    first_day: date
    last_day: date  # the last complete store-local day with data
    frame: pl.DataFrame  # every opening hour first_day..last_day, visitors (0 where none)
    zone: str | None = None  # None: the store's entrance count; else tracks in this zone

    @property
    def hours_per_day(self) -> int:
        return self.close_hour - self.open_hour

    @property
    def horizon_end(self) -> date:
        return self.last_day + timedelta(days=HORIZON_DAYS)

    @property
    def earliest_target(self) -> date:
        return self.first_day + timedelta(days=MIN_TRAIN_DAYS)


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin backtest of one store (WAPE: lower is better)."""

    store_id: str
    wape_forecast: float
    wape_naive: float
    coverage: float  # share of actual hours inside the forecast's interval
    windows: int
    hours: int

    def as_dict(self) -> dict[str, object]:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


# ------------------------------------------------------------------------- holidays


@functools.cache
def _zone_countries() -> dict[str, str]:
    """IANA zone → ISO country, from the system tz database's zone.tab (empty if absent)."""
    for folder in TZPATH:
        tab = Path(folder) / "zone.tab"
        if tab.is_file():
            out = {}
            for line in tab.read_text(encoding="utf-8").splitlines():
                if line and not line.startswith("#"):
                    parts = line.split("\t")
                    if len(parts) >= 3:
                        out[parts[2]] = parts[0]
            return out
    return {}


def country_for(timezone: str, configured: str | None = None) -> str | None:
    """The store's holiday country: the configured one, else its time zone's (None: unknown)."""
    return configured or _zone_countries().get(timezone)


def holiday_names(country: str | None, start: date, end: date) -> dict[date, str]:
    """Public holidays of ``country`` between ``start`` and ``end`` (inclusive)."""
    if country is None:
        return {}
    import holidays

    try:
        calendar = holidays.country_holidays(country, years=range(start.year, end.year + 1))
    except NotImplementedError:
        raise InvalidParams(
            f"country {country!r} has no public-holiday calendar in the holidays package; "
            "set store.country to an ISO 3166 code it knows (e.g. DE, GB, ES)"
        ) from None
    return {d: str(name) for d, name in sorted(calendar.items()) if start <= d <= end}


# ------------------------------------------------------------------------- history


def load_history(
    reader: Reader,
    store_id: str,
    scope: Scope,
    country: str | None = None,
    today: date | None = None,
    zone: str | None = None,
) -> StoreHistory:
    """The store's complete days of hourly traffic (today, still running, is left out):
    visitors through the entrance, or with ``zone`` the tracks seen in that zone.

    Raises InvalidParams for an unknown store or zone or one without data, AccessDenied
    for a store outside ``scope``.
    """
    known = reader.query("stores", {})
    row = known.filter(pl.col("store_id") == store_id)
    if row.is_empty():
        ids = ", ".join(sorted(known["store_id"].to_list())[:20]) or "none"
        raise InvalidParams(f"unknown store {store_id!r}; pick one of: {ids}")
    info = row.row(0, named=True)
    today = today or store_today(info["timezone"])
    end = today - timedelta(days=1)
    start = end - timedelta(days=MAX_HISTORY_DAYS - 1)
    flt = KpiFilter(start, end, (store_id,), "hour")
    resolve_stores(reader, flt, scope)  # AccessDenied before any number is read
    if zone is None:
        hourly = metrics(reader, flt, scope).select("bucket", "visitors")
    else:
        by_zone = zone_metrics(reader, flt, scope)
        names = sorted(set(by_zone["zone"].drop_nulls().to_list()))
        if zone not in names:
            raise InvalidParams(
                f"store {store_id!r} has no zone {zone!r} with data; pick one of: "
                f"{', '.join(names) or 'none'}"
            )
        hourly = by_zone.filter(pl.col("zone") == zone).select(
            "bucket", pl.col("tracks_total").alias("visitors")
        )
    if hourly.is_empty() or int(hourly["visitors"].sum()) == 0:
        raise InvalidParams(
            f"store {store_id!r} has no traffic before {today}; seed or record some history "
            "first (`storelens demo seed`, or run the pipeline)"
        )
    first_day = hourly["bucket"].min().date()  # type: ignore[union-attr]
    last_day = hourly["bucket"].max().date()  # type: ignore[union-attr]
    frame = (
        _grid(first_day, last_day, info["open_hour"], info["close_hour"])
        .join(hourly, on="bucket", how="left")
        .with_columns(pl.col("visitors").fill_null(0).cast(pl.Float64))
    )
    return StoreHistory(
        store_id=store_id,
        open_hour=int(info["open_hour"]),
        close_hour=int(info["close_hour"]),
        timezone=info["timezone"],
        country=country_for(info["timezone"], country),
        first_day=first_day,
        last_day=last_day,
        frame=frame,
        zone=zone,
    )


def zones_with_data(
    reader: Reader, store_id: str, scope: Scope, today: date | None = None
) -> list[str]:
    """Zones of ``store_id`` with tracks in its last four weeks (what may be forecast)."""
    tz = reader.query("stores", {"stores": [store_id]})["timezone"].to_list()
    end = (today or store_today(tz[0] if tz else None)) - timedelta(days=1)
    flt = KpiFilter(end - timedelta(days=27), end, (store_id,), "day")
    return sorted(set(zone_metrics(reader, flt, scope)["zone"].drop_nulls().to_list()))


def _grid(first: date, last: date, open_hour: int, close_hour: int) -> pl.DataFrame:
    days = pl.date_range(first, last, "1d", eager=True).alias("day")
    return (
        pl.DataFrame(days)
        .join(pl.DataFrame({"hour": list(range(open_hour, close_hour))}), how="cross")
        .with_columns(
            (pl.col("day").cast(pl.Datetime("us")) + pl.duration(hours=pl.col("hour"))).alias(
                "bucket"
            )
        )
        .sort("bucket")
    )


def _training(history: StoreHistory, before: date) -> np.ndarray:
    """Visitors of every opening hour before ``before``; past holidays take last week's hour."""
    frame = history.frame.filter(pl.col("day") < before)
    y = frame["visitors"].to_numpy().copy()
    hours = history.hours_per_day
    for day in holiday_names(history.country, history.first_day, before - timedelta(days=1)):
        i = (day - history.first_day).days * hours
        if i >= 7 * hours:
            y[i : i + hours] = y[i - 7 * hours : i - 7 * hours + hours]
    return y


# ------------------------------------------------------------------------- model


def _models(hours: int) -> list[object]:
    from statsforecast.models import MSTL, AutoETS, SeasonalNaive

    return [
        MSTL(
            season_length=[hours, 7 * hours],
            trend_forecaster=AutoETS(model="ZZN"),
            alias="forecast",
        ),
        SeasonalNaive(season_length=7 * hours, alias="naive"),
    ]


def _frame(store_id: str, y: np.ndarray) -> object:
    import pandas as pd  # statsforecast's own input type

    return pd.DataFrame({"unique_id": store_id, "ds": np.arange(y.size), "y": y})


def _statsforecast(hours: int) -> object:
    import tqdm
    from statsforecast import StatsForecast

    # statsforecast's progress bars start tqdm's monitor thread, which then outlives every
    # forecast in a long-running dashboard process; the bars are off anyway.
    tqdm.tqdm.monitor_interval = 0

    return StatsForecast(models=_models(hours), freq=1, n_jobs=1)


# ------------------------------------------------------------------------- fit cache

# A fit is seconds (the backtest is eight of them) and depends only on the history, which
# changes once a day when a day completes. The Staffing page asks for the same store's rota
# in every browser session, so fits are remembered per process, keyed by what they are fitted
# on: a day's new data (or another store, zone or setting) is another key. Scope is checked
# by load_history before a history exists, so the cache cannot widen what anyone sees.
FIT_CACHE_SIZE = 64
_FITS: OrderedDict[tuple, object] = OrderedDict()
_FITS_LOCK = threading.Lock()


def _history_key(history: StoreHistory) -> tuple:
    visitors = np.ascontiguousarray(history.frame["visitors"].to_numpy(), dtype=np.float64)
    digest = hashlib.blake2b(visitors.tobytes(), digest_size=16).hexdigest()
    return (
        history.store_id,
        history.zone,
        history.open_hour,
        history.close_hour,
        history.country,
        history.first_day,
        history.last_day,
        digest,
    )


def _remembered_fit(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def fit(history: StoreHistory, *args: object, **kwargs: object) -> object:
        key = (fn.__name__, _history_key(history), args, tuple(sorted(kwargs.items())))
        with _FITS_LOCK:
            if key in _FITS:
                _FITS.move_to_end(key)
                return _FITS[key]
        value = fn(history, *args, **kwargs)  # outside the lock: fits of other stores go on
        with _FITS_LOCK:
            _FITS[key] = value
            while len(_FITS) > FIT_CACHE_SIZE:
                _FITS.popitem(last=False)
        return value

    return fit


@_remembered_fit
def forecast_store(
    history: StoreHistory, first_day: date, days: int = HORIZON_DAYS
) -> pl.DataFrame:
    """Forecast every opening hour of ``days`` days from ``first_day``, fitted on the hours
    before ``first_day`` (a past day is forecast as it would have been that morning).

    Columns: store_id, zone, day, hour, bucket (store-local), forecast, lo, hi (the 80 %
    interval, never below 0), naive (same hour last week), holiday (name or null).
    """
    if not 1 <= days <= HORIZON_DAYS:
        raise InvalidParams(f"days must be 1..{HORIZON_DAYS}, got {days}")
    last = first_day + timedelta(days=days - 1)
    if first_day < history.earliest_target:
        raise InvalidParams(
            f"date {first_day} has fewer than {MIN_TRAIN_DAYS} days of history before it "
            f"(store {history.store_id} starts {history.first_day}); pick a date from "
            f"{history.earliest_target} to {history.horizon_end}"
        )
    if last > history.horizon_end:
        raise InvalidParams(
            f"date {last} is past the {HORIZON_DAYS}-day horizon (store {history.store_id} "
            f"has data up to {history.last_day}); pick a date up to {history.horizon_end}"
        )
    train_end = min(first_day, history.last_day + timedelta(days=1))
    y = _training(history, train_end)
    hours = history.hours_per_day
    steps = ((last - train_end).days + 1) * hours
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsforecast's pandas deprecation chatter
        out = _statsforecast(hours).forecast(  # type: ignore[attr-defined]
            df=_frame(history.store_id, y), h=steps, level=[LEVEL]
        )
    tail = out.iloc[-days * hours :]
    holidays_ahead = holiday_names(history.country, first_day, last)
    grid = _grid(first_day, last, history.open_hour, history.close_hour)
    return grid.select(
        pl.lit(history.store_id).alias("store_id"),
        pl.lit(history.zone, pl.String).alias("zone"),
        "day",
        "hour",
        "bucket",
        pl.Series("forecast", tail["forecast"].to_numpy()).clip(0.0),
        pl.Series("lo", tail[f"forecast-lo-{LEVEL}"].to_numpy()).clip(0.0),
        pl.Series("hi", tail[f"forecast-hi-{LEVEL}"].to_numpy()).clip(0.0),
        pl.Series("naive", tail["naive"].to_numpy()).clip(0.0),
        pl.col("day")
        .replace_strict(holidays_ahead, default=None, return_dtype=pl.String)
        .alias("holiday"),
    )


@_remembered_fit
def backtest(history: StoreHistory, weeks: int = BACKTEST_WEEKS) -> Backtest:
    """Rolling origin: ``weeks`` origins a week apart, each forecasting the next 7 days."""
    if not 1 <= weeks <= 52:
        raise InvalidParams(f"weeks must be 1..52, got {weeks}")
    hours = history.hours_per_day
    y = _training(history, history.last_day + timedelta(days=1))
    needed = (weeks * 7 + MIN_TRAIN_DAYS) * hours
    if y.size < needed:
        raise InvalidParams(
            f"store {history.store_id}: a {weeks}-week backtest needs "
            f"{weeks * 7 + MIN_TRAIN_DAYS} days of history, it has {y.size // hours}; "
            "use fewer weeks or record more history"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cv = _statsforecast(hours).cross_validation(  # type: ignore[attr-defined]
            df=_frame(history.store_id, y),
            h=7 * hours,
            step_size=7 * hours,
            n_windows=weeks,
            level=[LEVEL],
        )
    actual = cv["y"].to_numpy()
    total = float(np.abs(actual).sum()) or 1.0
    inside = (actual >= cv[f"forecast-lo-{LEVEL}"].to_numpy()) & (
        actual <= cv[f"forecast-hi-{LEVEL}"].to_numpy()
    )
    return Backtest(
        store_id=history.store_id,
        wape_forecast=float(np.abs(actual - cv["forecast"].to_numpy()).sum()) / total,
        wape_naive=float(np.abs(actual - cv["naive"].to_numpy()).sum()) / total,
        coverage=float(inside.mean()),
        windows=weeks,
        hours=int(actual.size),
    )
