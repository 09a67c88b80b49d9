"""Issue 22 items 1-2: the traffic forecast (statsforecast, backtested against "same hour
last week") and the recommended rota (shifts, cost, gaps, CSV that round-trips through
``storelens import shifts``), on a real seeded demo database."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from storelens.data.demo import seed_demo
from storelens.data.errors import AccessDenied, InvalidParams
from storelens.data.forecast import HORIZON_DAYS, backtest, forecast_store, load_history
from storelens.data.kpi import Scope
from storelens.data.reader import LocalReader
from storelens.data.rota import CSV_COLUMNS, Rota, RotaRules, plan_rota, plan_shifts, rules_for
from storelens.kernel.config import ConfigError, StoreConfig, parse_config

END = date(2026, 12, 20)  # last demo day: the 14-day horizon holds Christmas
TODAY = END + timedelta(days=1)
STORES = ("demo", "s01", "s02")  # Berlin (DE), London (GB), London (GB)
CLI_ENV = {"STORELENS_NOW": f"{TODAY}T07:00:00+00:00"}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("forecast") / "demo.duckdb"
    seed_demo(path, days=90, stores=len(STORES), seed=7, end=END)
    return path


@pytest.fixture(scope="module")
def reader(demo_db: Path) -> LocalReader:
    return LocalReader(demo_db)


def storelens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storelens.app.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **CLI_ENV},
        timeout=240,
    )


def test_backtest_beats_same_hour_last_week_on_every_demo_store(reader: LocalReader) -> None:
    for store in STORES:
        history = load_history(reader, store, Scope.everything(), today=TODAY)
        result = backtest(history)
        assert result.windows == 8
        assert result.hours == 8 * 7 * history.hours_per_day  # the last 8 weeks, every hour
        assert result.wape_forecast < result.wape_naive, result
        assert 0.6 < result.coverage < 0.95, result  # an 80 % interval that means something


def test_forecast_14_days_with_interval_and_named_holidays(reader: LocalReader) -> None:
    history = load_history(reader, "s01", Scope.everything(), today=TODAY)
    assert (history.country, history.last_day) == ("GB", END)
    frame = forecast_store(history, TODAY)
    assert frame.height == HORIZON_DAYS * history.hours_per_day
    assert frame["day"].min() == TODAY and frame["day"].max() == END + timedelta(HORIZON_DAYS)
    assert (frame["lo"] <= frame["forecast"]).all() and (frame["forecast"] <= frame["hi"]).all()
    assert (frame["hi"] - frame["lo"]).min() > 0
    # Saturdays (the demo's busiest day) forecast above Sundays (its quietest).
    by_day = frame.group_by(pl.col("day").dt.weekday().alias("wd")).agg(pl.col("forecast").sum())
    per = dict(by_day.rows())
    assert per[6] > per[7] * 1.5
    holidays = dict(frame.select("day", "holiday").unique().rows())
    assert holidays[date(2026, 12, 25)] == "Christmas Day"
    assert holidays[date(2026, 12, 23)] is None
    demo = load_history(reader, "demo", Scope.everything(), today=TODAY)
    assert demo.country == "DE"
    assert load_history(reader, "demo", Scope.everything(), "AT", today=TODAY).country == "AT"


def test_forecast_refuses_dates_outside_history_and_horizon(reader: LocalReader) -> None:
    history = load_history(reader, "s01", Scope.everything(), today=TODAY)
    with pytest.raises(
        InvalidParams, match=r"2027-01-04 is past the 14-day horizon.*up to 2027-01-03"
    ):
        forecast_store(history, date(2027, 1, 4), days=1)
    with pytest.raises(InvalidParams, match=r"fewer than 28 days of history.*pick a date from"):
        forecast_store(history, history.first_day + timedelta(days=3), days=1)
    with pytest.raises(InvalidParams, match=r"unknown store 'nope'; pick one of: demo, s01, s02"):
        load_history(reader, "nope", Scope.everything(), today=TODAY)
    with pytest.raises(AccessDenied):
        load_history(reader, "s02", Scope.of("s01"), today=TODAY)


@settings(max_examples=200, deadline=None)
@given(
    needed=st.lists(st.integers(0, 9), min_size=1, max_size=16),
    lengths=st.tuples(st.integers(1, 12), st.integers(1, 12)).map(sorted),
)
def test_shifts_cover_every_hour_within_allowed_lengths(
    needed: list[int], lengths: list[int]
) -> None:
    rules = RotaRules(lengths[0], lengths[1])
    shifts = plan_shifts(needed, [1] * len(needed), 8, rules)
    on = [0] * len(needed)
    for s in shifts:
        assert 8 <= s.start_hour < s.end_hour <= 8 + len(needed)  # inside opening hours
        assert min(rules.min_shift_hours, len(needed)) <= s.hours <= rules.max_shift_hours
        for h in range(s.start_hour, s.end_hour):
            on[h - 8] += 1
    assert all(o >= n for o, n in zip(on, needed, strict=True)), (needed, shifts)


def test_gaps_name_people_short_and_euros_over() -> None:
    hours = pl.DataFrame(
        {
            "hour": list(range(10, 20)),
            "staff_recommended": [2, 2, 4, 4, 2, 2, 2, 3, 3, 2],
            "staff_planned": [2.0, 2.0, 2.0, 2.5, 2.0, 2.0, 2.0, 6.0, 6.0, 2.0],
        }
    ).with_columns((pl.col("staff_planned") - pl.col("staff_recommended")).alias("diff"))
    rota = Rota("s1", TODAY, None, 30.0, hours, [], None, RotaRules())  # type: ignore[arg-type]
    assert rota.gaps() == ["2 people short 12–14", "€180 over 17–19"]
    empty = hours.with_columns(pl.lit(0.0).alias("staff_planned"))
    assert (
        "no shifts imported"
        in Rota(
            "s1",
            TODAY,
            None,
            30.0,
            empty,
            [],
            None,
            RotaRules(),  # type: ignore[arg-type]
        ).gaps()[0]
    )


def test_rules_come_from_the_stores_config_and_are_bounded() -> None:
    store = StoreConfig(store_id="s01", min_shift_hours=3, max_shift_hours=6, country="IE")
    rules, country = rules_for("s01", store)
    assert (rules.min_shift_hours, rules.max_shift_hours, country) == (3, 6, "IE")
    rules, country = rules_for("s02", store)  # another store: the defaults
    assert (rules.min_shift_hours, rules.max_shift_hours, country) == (4, 8, None)
    with pytest.raises(ConfigError, match="min_shift_hours 9 is above max_shift_hours 8"):
        parse_config({"store": {"min_shift_hours": 9}})
    with pytest.raises(ConfigError, match=r"store\.country"):
        parse_config({"store": {"country": "Germany"}})
    with pytest.raises(InvalidParams, match=r"max_shift_hours must be 1\.\.12"):
        RotaRules(4, 13)


def test_plan_rota_uses_the_forecast_and_short_shifts_where_the_store_is_short(
    reader: LocalReader,
) -> None:
    # A past day: the forecast as it would have been that morning, beside its real shifts.
    day = END - timedelta(days=1)  # a Saturday
    rota = plan_rota(reader, "s01", day, Scope.everything(), RotaRules(4, 8), today=TODAY)
    assert rota.hours["hour"].to_list() == list(range(8, 20))  # s01 opens 08-20
    assert rota.hours["staff_planned"].sum() > 0
    assert all(4 <= s.hours <= 8 for s in rota.shifts)
    assert rota.cost_recommended == pytest.approx(sum(s.hours for s in rota.shifts) * rota.rate)
    assert 15 < rota.rate < 30  # the demo's imported hourly costs
    with pytest.raises(AccessDenied):
        plan_rota(reader, "s01", day, Scope.of("s02"), today=TODAY)


def test_rota_csv_round_trips_through_import(demo_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "rt.duckdb"
    shutil.copy(demo_db, db)
    out = tmp_path / "rota.csv"
    first = storelens(
        "plan",
        "rota",
        "--db",
        str(db),
        "--store",
        "s02",
        "--date",
        str(TODAY),
        "--json",
        "--csv",
        str(out),
    )
    assert first.returncode == 0, first.stderr
    before = json.loads(first.stdout)
    assert before["comparison"] == [f"no shifts imported for {TODAY}: every hour is short"]
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert len(lines) - 1 == len(before["shifts"]) > 0

    imported = storelens("import", "shifts", str(out), "--db", str(db), "--json")
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["rows_added"] == len(before["shifts"])

    after = json.loads(
        storelens(
            "plan", "rota", "--db", str(db), "--store", "s02", "--date", str(TODAY), "--json"
        ).stdout
    )
    coverage = {h["hour"]: 0 for h in before["hours"]}
    for s in before["shifts"]:
        for hour in range(int(s["start"][:2]), int(s["end"][:2])):
            coverage[hour] += 1
    assert {h["hour"]: h["staff_planned"] for h in after["hours"]} == coverage
    assert after["cost"]["planned"] == pytest.approx(before["cost"]["recommended"])
    assert not any("short" in line for line in after["comparison"]), after["comparison"]
    again = storelens("import", "shifts", str(out), "--db", str(db), "--json")
    assert json.loads(again.stdout)["rows_added"] == 0  # one id per shift: nothing twice


def test_plan_rota_cli_json_and_one_line_errors(demo_db: Path) -> None:
    done = storelens(
        "plan",
        "rota",
        "--db",
        str(demo_db),
        "--store",
        "s01",
        "--date",
        str(TODAY + timedelta(days=4)),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"hours", "shifts", "cost", "backtest"} <= set(result)
    hour = result["hours"][0]
    assert set(hour) >= {"hour", "forecast", "interval", "staff_recommended", "staff_planned"}
    assert hour["interval"][0] <= hour["forecast"] <= hour["interval"][1]
    assert result["backtest"]["wape_forecast"] < result["backtest"]["wape_naive"]
    assert result["holiday"] == "Christmas Day"  # 2026-12-25, s01 is in London

    for args, needle in (
        (("--store", "nope", "--date", str(TODAY)), "unknown store 'nope'"),
        (("--store", "s01", "--date", "2027-02-01"), "2027-02-01 is past the 14-day horizon"),
        (("--store", "s01", "--date", "tomorrow"), "--date 'tomorrow' is not a date"),
    ):
        bad = storelens("plan", "rota", "--db", str(demo_db), *args)
        assert bad.returncode == 2, bad
        assert bad.stderr.count("\n") == 1 and needle in bad.stderr, bad.stderr


def test_plan_forecast_cli_per_hour_and_zone(demo_db: Path) -> None:
    done = storelens(
        "plan",
        "forecast",
        "--db",
        str(demo_db),
        "--store",
        "s01",
        "--days",
        "2",
        "--zones",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["from"] == str(TODAY)  # the day after the last complete one
    by_zone = {s["zone"]: s["hours"] for s in result["series"]}
    assert set(by_zone) == {None, "floor", "checkout"}  # entrance, then each zone with data
    for hours in by_zone.values():
        assert len(hours) == 2 * 12  # s01 opens 08-20
        assert all(h["interval"][0] <= h["forecast"] <= h["interval"][1] for h in hours)
    # Every visitor walks the floor, only buyers reach the checkout.
    assert sum(h["forecast"] for h in by_zone["checkout"]) < sum(
        h["forecast"] for h in by_zone["floor"]
    )
    bad = storelens("plan", "forecast", "--db", str(demo_db), "--store", "s01", "--from", "x")
    assert bad.returncode == 2 and "--from 'x' is not a date" in bad.stderr


def test_a_fit_is_remembered_until_the_history_changes(
    reader: LocalReader, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every browser session's Staffing page asks for the same rota: the fit runs once per
    history (data/forecast.py, fit cache); one more visitor in the history is a new fit."""
    import dataclasses

    import polars as pl
    from storelens.data import forecast

    fits: list[int] = []
    real = forecast._statsforecast
    monkeypatch.setattr(forecast, "_statsforecast", lambda h: fits.append(h) or real(h))
    forecast._FITS.clear()
    history = load_history(reader, "s02", Scope.everything(), today=TODAY)
    day = history.last_day + timedelta(days=1)
    first = forecast_store(history, day, days=1)
    same = load_history(reader, "s02", Scope.everything(), today=TODAY)  # another session
    assert forecast_store(same, day, days=1) is first and len(fits) == 1
    one_more = history.frame.with_columns(
        pl.col("visitors") + (pl.int_range(pl.len()) == 0).cast(pl.Int64)
    )
    changed = forecast_store(dataclasses.replace(history, frame=one_more), day, days=1)
    assert len(fits) == 2 and changed is not first
