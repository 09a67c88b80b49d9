"""Issue 22 items 3–6 on a real DuckDB file with known numbers (tests/data/insights_db.py):
the funnel, the € impact of queues and staffing, camera data health (uptime, gaps, the
missing hours charts leave blank), and the drill-down hour's likely-cause facts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from storelens.data import drill, funnel, health, impact, kpi
from storelens.data.errors import AccessDenied
from storelens.data.reader import LocalReader

from tests.data.insights_db import (
    BASKET,
    DAYS,
    GAP_DAY,
    GAP_HOURS,
    SLOW_HOURS,
    build_insights_db,
)

TODAY = datetime.now(UTC).date()
FIRST, LAST = TODAY - timedelta(days=DAYS), TODAY - timedelta(days=1)
EVERYTHING = kpi.Scope.everything()


@pytest.fixture(scope="module")
def reader(tmp_path_factory: pytest.TempPathFactory):
    db = build_insights_db(tmp_path_factory.mktemp("insights") / "i.duckdb", TODAY)
    r = LocalReader(db)
    yield r
    r.close()


def week() -> kpi.KpiFilter:
    return kpi.KpiFilter(LAST - timedelta(days=6), LAST, ("a",))


def test_funnel_per_store_and_day_with_drop_off(reader: LocalReader) -> None:
    frame = funnel.store_day_funnel(reader, week(), EVERYTHING)
    assert frame.height == 7
    full = frame.filter(pl.col("bucket") == datetime.combine(LAST, datetime.min.time()))
    row = full.row(0, named=True)
    assert (row["traffic"], row["zone_visits"], row["queue_joins"], row["transactions"]) == (
        80,
        80,
        40,
        34,
    )
    assert row["drop_zone_visits"] == 0.0
    assert row["drop_queue_joins"] == pytest.approx(0.5)
    assert row["drop_transactions"] == pytest.approx(1 - 34 / 40)
    assert row["overall"] == pytest.approx(34 / 80)
    # The blackout day: two hours of shoppers unseen, the till still rang.
    gap = frame.filter(
        pl.col("bucket") == datetime.combine(TODAY - timedelta(days=GAP_DAY), datetime.min.time())
    ).row(0, named=True)
    assert (gap["traffic"], gap["transactions"]) == (60, 34)
    period = funnel.period_funnel(frame).row(0, named=True)
    assert period["traffic"] == 6 * 80 + 60
    steps = funnel.steps_long(period)
    assert steps["step"].to_list() == ["Traffic", "Zone visits", "Queue joins", "Transactions"]
    assert steps["drop"][0] is None and steps["drop"][2] == pytest.approx(0.5)


def test_funnel_refuses_a_store_outside_the_scope(reader: LocalReader) -> None:
    with pytest.raises(AccessDenied):
        funnel.store_day_funnel(reader, week(), kpi.Scope.of("b"))


def test_sales_lost_to_queues_follow_the_stated_formula(reader: LocalReader) -> None:
    flt = kpi.KpiFilter(LAST - timedelta(days=1), LAST)  # two full days, both stores
    frame = impact.queue_loss(reader, flt, EVERYTHING)
    a = frame.filter(pl.col("store_id") == "a").row(0, named=True)
    assert (a["hours_over"], a["hours_under"]) == (2 * len(SLOW_HOURS), 2 * 6)
    assert a["conversion_over"] == pytest.approx(0.2)
    assert a["conversion_under"] == pytest.approx(0.5)
    assert a["avg_basket"] == pytest.approx(BASKET)
    assert a["lost_transactions"] == pytest.approx(0.3 * 2 * 20)
    assert a["lost_sales"] == pytest.approx(0.3 * 2 * 20 * BASKET)  # €240 over two days
    b = frame.filter(pl.col("store_id") == "b").row(0, named=True)
    assert b["hours_over"] == 0 and b["lost_sales"] is None
    assert "too few" in b["note"]
    # A higher target makes every hour calm: nothing lost, and the figure says why.
    lenient = impact.queue_loss(
        reader, flt, EVERYTHING, impact.ImpactAssumptions(target_wait_s=400)
    )
    assert lenient.filter(pl.col("store_id") == "a")["lost_sales"][0] is None


def test_impact_assumptions_are_bounded_and_spelled_out() -> None:
    with pytest.raises(ValueError):
        impact.ImpactAssumptions(target_wait_s=1)
    with pytest.raises(ValueError):
        impact.ImpactAssumptions(surprise=1)  # type: ignore[call-arg]
    text = " ".join(impact.assumptions_text(impact.ImpactAssumptions(target_wait_s=150)))
    assert "150 s" in text and "average basket" in text and "Erlang C" in text


def test_staffing_cost_and_totals(reader: LocalReader) -> None:
    flt = kpi.KpiFilter(LAST - timedelta(days=1), LAST)
    frame = impact.store_impact(reader, flt, EVERYTHING)
    assert set(frame["store_id"]) == {"a", "b"}
    staffing = kpi.staffing_summary(kpi.staffing(reader, flt.with_(granularity="hour"), EVERYTHING))
    assert frame.sort("store_id")["staff_cost_under"].to_list() == pytest.approx(
        staffing.sort("store_id")["cost_under"].to_list()
    )
    totals = impact.impact_totals(frame)
    assert totals["lost_sales"] == pytest.approx(240.0)
    assert totals["stores_valued"] == 1 and totals["stores"] == 2


def test_camera_health_uptime_gaps_and_missing_hours(reader: LocalReader) -> None:
    hours = health.camera_hours(reader, week(), EVERYTHING)
    assert hours.height == 7 * 8  # one camera x 8 opening hours x 7 days
    gap_day = TODAY - timedelta(days=GAP_DAY)
    gap_start = datetime.combine(gap_day, datetime.min.time()) + timedelta(hours=GAP_HOURS[0])
    missing = health.missing_store_hours(hours)
    assert missing == [gap_start, gap_start + timedelta(hours=1)]
    up = hours.filter(~pl.col("missing"))
    assert up["uptime"].min() == 1.0  # a queue sample in every 5-minute slot
    summary = health.store_summary(hours).row(0, named=True)
    assert summary["hours_missing"] == 2 and summary["gaps"] == 1
    assert summary["longest_gap_h"] == 2
    assert summary["uptime"] == pytest.approx(54 / 56)
    gaps = health.blackout_gaps(hours)
    assert gaps.row(0, named=True)["start"] == gap_start
    assert gaps.row(0, named=True)["end"] == gap_start + timedelta(hours=2)
    assert health.camera_summary(hours)["gaps"].to_list() == [1]


def test_kpi_charts_get_gaps_not_zeros_in_missing_hours(reader: LocalReader) -> None:
    gap_day = TODAY - timedelta(days=GAP_DAY)
    flt = kpi.KpiFilter(gap_day, gap_day, ("a",), "hour")
    metrics = kpi.metrics(reader, flt, EVERYTHING)
    at = datetime.combine(gap_day, datetime.min.time()) + timedelta(hours=GAP_HOURS[0])
    # The plain query zero-fills: an hour with sales but no camera row reads as 0 visitors.
    assert metrics.filter(pl.col("bucket") == at)["visitors"].to_list() == [0]
    missing = health.missing_store_hours(health.camera_hours(reader, flt, EVERYTHING))
    shown = health.null_missing(metrics, missing)
    row = shown.filter(pl.col("bucket") == at).row(0, named=True)
    assert row["visitors"] is None and row["transactions"] == 5  # sales stay: imports
    assert shown.filter(pl.col("bucket") == at - timedelta(hours=1))["visitors"][0] == 10


def test_camera_health_future_hours_are_neither_up_nor_missing(reader: LocalReader) -> None:
    flt = kpi.KpiFilter(TODAY, TODAY, ("a",))
    morning = datetime.combine(TODAY, datetime.min.time(), UTC) + timedelta(hours=10, minutes=30)
    hours = health.camera_hours(reader, flt, EVERYTHING, now=morning)
    assert hours["bucket"].dt.hour().to_list() == [9]  # only 09:00 is over


def test_drill_down_hour_facts_point_at_the_queue(reader: LocalReader) -> None:
    days = drill.days_of_store(reader, "a", LAST - timedelta(days=6), LAST, EVERYTHING, 120.0)
    assert days.height == 7 and days["slow_hours"].to_list() == [2] * 7
    hours = drill.hours_of_day(reader, "a", LAST, EVERYTHING)
    assert hours.height == 8
    facts = drill.hour_facts(reader, "a", LAST, SLOW_HOURS[0], EVERYTHING)
    assert facts.wait_s == pytest.approx(300.0) and facts.target_wait_s == 120.0
    assert facts.conversion == pytest.approx(0.2)
    assert facts.conversion_last_week == pytest.approx(0.2)
    assert facts.staff_on_shift == 1.0 and facts.staff_recommended is not None
    assert facts.camera_uptime == 1.0
    cause = drill.likely_cause(facts)
    assert cause[0].startswith("Queue wait 300 s, 2.5× the 120 s target")
    calm = drill.hour_facts(reader, "a", LAST, 10, EVERYTHING)
    assert not any("Queue wait" in c for c in drill.likely_cause(calm))
    blank = drill.hour_facts(reader, "a", TODAY - timedelta(days=GAP_DAY), GAP_HOURS[0], EVERYTHING)
    assert drill.likely_cause(blank) == [
        "No camera data in this hour: the numbers are missing, not low."
    ]


def test_drill_down_is_scoped(reader: LocalReader) -> None:
    with pytest.raises(AccessDenied):
        drill.hour_facts(reader, "a", LAST, 12, kpi.Scope.of("b"))


def test_camera_health_query_goes_through_the_scoped_read_api_params() -> None:
    from storelens.data import apiauth

    days = {"start": date(2026, 1, 1), "end": date(2026, 1, 2)}
    params = apiauth.scope_params(
        "camera_health", {"stores": ["b"], **days}, frozenset({"b"}), lambda c: None, lambda s: []
    )
    assert params["stores"] == ["b"]
    with pytest.raises(AccessDenied):
        apiauth.scope_params(
            "camera_health",
            {"stores": ["a"], "start": date(2026, 1, 1), "end": date(2026, 1, 2)},
            frozenset({"b"}),
            lambda c: None,
            lambda s: [],
        )


def test_report_week_errors_name_the_value(reader: LocalReader) -> None:
    from storelens.data import report
    from storelens.data.errors import InvalidParams

    with pytest.raises(InvalidParams, match="expected an ISO week like 2026-W49"):
        report.parse_week("2026-49")
    with pytest.raises(InvalidParams, match="has no ISO week 60"):
        report.parse_week("2026-W60")
    with pytest.raises(InvalidParams, match="known regions: north, south"):
        report.check_week(reader, "west", report.week_label(LAST), EVERYTHING)
    with pytest.raises(AccessDenied, match="'north' is outside"):
        report.check_week(reader, "north", report.week_label(LAST), kpi.Scope.of("b"))
    with pytest.raises(InvalidParams, match="no data for region north"):
        report.check_week(reader, "north", "2020-W10", EVERYTHING)
    facts = report.weekly_facts(
        reader, "north", report.week_label(LAST - timedelta(days=7)), EVERYTHING
    )
    assert facts.comparison["store_id"].to_list() == ["a"]
    assert facts.totals["visitors"] > 0 and facts.impact_totals["stores"] == 1


def test_camera_health_and_impact_over_the_read_api(tmp_path: Path) -> None:
    """The dashboard under `storelens up` reads through the writer's read API: the new named
    query runs there too, signed as a caller limited to store a (scope on the server)."""
    from storelens.data.apiauth import Caller
    from storelens.data.readapi import serve
    from storelens.data.reader import ApiReader
    from storelens.data.writer import Writer

    db = build_insights_db(tmp_path / "api.duckdb", TODAY)
    writer = Writer(db)
    server = serve(writer, port=0, publish=False)
    try:
        api = ApiReader(server.url, secret=server.secret).for_caller(
            Caller("sam", "store_manager", "a", None)
        )
        hours = health.camera_hours(api, week(), kpi.Scope.of("a"))
        assert health.store_summary(hours)["hours_missing"].to_list() == [2]
        flt = kpi.KpiFilter(LAST - timedelta(days=1), LAST, ("a",))
        lost = impact.queue_loss(api, flt, kpi.Scope.of("a"))["lost_sales"].to_list()
        assert lost == pytest.approx([240.0])
        with pytest.raises(AccessDenied):  # the server refuses store b for this caller
            api.query("camera_health", {"stores": ["b"], "start": LAST, "end": LAST})
    finally:
        server.stop()
        writer.close()
