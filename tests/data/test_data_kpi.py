"""Every KPI on the golden database, against values computed by hand from tests/data/golden.

Golden store g1 is on Berlin time (UTC+1 on 2026-03-02), open 9-18, 400 m²; g2 is on UTC,
open 8-20, 200 m². Local hours below are g1's wall clock.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest
from storelens.data import kpi
from storelens.data.errors import AccessDenied, InvalidParams
from storelens.data.kpi import KpiFilter, Scope, StaffingTargets

DAY = date(2026, 3, 2)
ALL = Scope.everything()


def day_filter(*stores: str, granularity: str = "day") -> KpiFilter:
    return KpiFilter(start=DAY, end=DAY, stores=stores, granularity=granularity)  # type: ignore[arg-type]


def one_row(frame: pl.DataFrame, store: str, bucket: datetime | None = None) -> dict:
    rows = frame.filter(pl.col("store_id") == store)
    if bucket is not None:
        rows = rows.filter(pl.col("bucket") == bucket)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def at(hour: int) -> datetime:
    return datetime(2026, 3, 2, hour)


def test_visitors_count_each_track_once_in_local_hours(golden_reader):
    hourly = kpi.visitors(golden_reader, day_filter("g1", granularity="hour"), ALL)
    # 10 distinct tracks enter 09:01-09:10Z (= 10:xx Berlin; track 1 enters twice, counted once),
    # 5 enter 10:01-10:05Z (= 11:xx Berlin).
    assert one_row(hourly, "g1", at(10))["visitors"] == 10
    assert one_row(hourly, "g1", at(11))["visitors"] == 5
    daily = kpi.visitors(golden_reader, day_filter("g1"), ALL)
    assert one_row(daily, "g1")["visitors"] == 15
    weekly = kpi.visitors(golden_reader, day_filter("g1", granularity="week"), ALL)
    assert one_row(weekly, "g1")["bucket"] == at(0)  # Monday 2026-03-02 starts the ISO week
    assert one_row(weekly, "g1")["visitors"] == 15


def test_occupancy_never_below_zero_and_per_hour(golden_reader):
    frame = kpi.occupancy(golden_reader, day_filter("g1", granularity="hour"), ALL)
    got = {r["bucket"].hour: r["occupancy_peak"] for r in frame.iter_rows(named=True)}
    # 09h: 2 exits of people who came before opening -> clipped to 0, not -2.
    # 10h: +10 in, -4 out -> 6.  11h: +5 in, -8 out -> 3.  12h: nothing -> 3.
    assert got[9] == 0
    assert got[10] == 6
    assert got[11] == 3
    daily = kpi.occupancy(golden_reader, day_filter("g1"), ALL)
    assert one_row(daily, "g1")["occupancy_peak"] == 6


def test_dwell_counts_visits_from_five_seconds(golden_reader):
    frame = kpi.dwell(golden_reader, day_filter("g1"), ALL)
    row = one_row(frame, "g1")
    # zone_exit values 3 s (ignored: < 5 s), 10 s, 20 s -> 2 visits, mean 15 s.
    assert row["dwell_visits"] == 2
    assert row["avg_dwell_s"] == pytest.approx(15.0)
    by_zone = kpi.dwell(golden_reader, day_filter("g1"), ALL, by_zone=True)
    floor = by_zone.filter(pl.col("zone") == "floor").row(0, named=True)
    assert floor["dwell_visits"] == 2


def test_queue_wait_uses_littles_law_where_tracks_are_broken(golden_reader):
    hourly = kpi.queue(golden_reader, day_filter("g1", granularity="hour"), ALL)
    ten = one_row(hourly, "g1", at(10))
    # 10h: samples 2, 3, 4 -> L = 3. 6 joins but only 2 measured leaves (2/6 < 80 %): broken
    # tracks, so W = L / λ = 3 / (6 per hour) = 0.5 h = 1800 s.
    assert ten["queue_length_avg"] == pytest.approx(3.0)
    assert ten["queue_length_max"] == 4
    assert ten["wait_method"] == "littles_law"
    assert ten["wait_s"] == pytest.approx(1800.0)
    assert ten["wait_measured_s"] == pytest.approx(120.0)  # (100 + 140) / 2, not trusted
    eleven = one_row(hourly, "g1", at(11))
    # 11h: 2 joins, 2 leaves of 30 s and 50 s -> measured mean 40 s.
    assert eleven["wait_method"] == "measured"
    assert eleven["wait_s"] == pytest.approx(40.0)
    daily = one_row(kpi.queue(golden_reader, day_filter("g1"), ALL), "g1")
    # Day: ΣL = 3 + 1 over 2 sampled hours -> L 2; 8 joins, 4 leaves (< 80 %) ->
    # W = ΣL·3600 / joins = 4·3600 / 8 = 1800 s.
    assert daily["queue_length_avg"] == pytest.approx(2.0)
    assert daily["wait_s"] == pytest.approx(1800.0)


def test_conversion_and_sales_per_visitor(golden_reader):
    daily = one_row(kpi.conversion(golden_reader, day_filter("g1"), ALL), "g1")
    # 5 transactions (10+20+30 in the 10h local hour, 25+35 in 11h) / 15 visitors.
    assert daily["transactions"] == 5
    assert daily["conversion"] == pytest.approx(5 / 15)
    hourly = kpi.conversion(golden_reader, day_filter("g1", granularity="hour"), ALL)
    # "2026-03-02T09:50:00Z" is 10:50 in Berlin: it belongs to the 10h bucket.
    assert one_row(hourly, "g1", at(10))["conversion"] == pytest.approx(3 / 10)
    assert one_row(hourly, "g1", at(11))["conversion"] == pytest.approx(2 / 5)
    spv = one_row(kpi.sales_per_visitor(golden_reader, day_filter("g1"), ALL), "g1")
    assert spv["sales"] == pytest.approx(120.0)
    assert spv["sales_per_visitor"] == pytest.approx(8.0)


@pytest.mark.parametrize(
    ("granularity", "bucket", "min_group", "index", "faces_read"),
    [
        # 10h: 10 tracks; readable 6 (4 satisfied, 1 neutral, 1 frustrated; 'unknown' and
        # no-face tracks are not readable) -> 100·(4−1)/6 = 50; faces read 6/10.
        ("hour", at(10), 5, 50.0, 0.6),
        # 11h: 5 tracks, readable 3 (< 5): not shown; faces read 3/5.
        ("hour", at(11), 5, None, 0.6),
        # Day: readable 9 (6 satisfied, 2 frustrated) of 15 -> 100·4/9.
        ("day", at(0), 5, 400 / 9, 0.6),
        # Same day with a minimum group of 10: 9 readable tracks are too few.
        ("day", at(0), 10, None, 0.6),
    ],
)
def test_satisfaction_index_with_minimum_group(
    golden_reader, granularity, bucket, min_group, index, faces_read
):
    frame = kpi.satisfaction(
        golden_reader, day_filter("g1", granularity=granularity), ALL, min_group=min_group
    )
    row = one_row(frame, "g1", bucket)
    if index is None:
        assert row["satisfaction_index"] is None
    else:
        assert row["satisfaction_index"] == pytest.approx(index)
    assert row["faces_read"] == pytest.approx(faces_read)


def test_satisfaction_per_zone(golden_reader):
    frame = kpi.satisfaction(golden_reader, day_filter("g1"), ALL, by_zone=True)
    checkout = frame.filter(pl.col("zone") == "checkout").row(0, named=True)
    # Only tracks 11-15 visited the checkout: 3 readable < 5 -> hidden.
    assert checkout["tracks_total"] == 5
    assert checkout["satisfaction_index"] is None
    floor = frame.filter(pl.col("zone") == "floor").row(0, named=True)
    assert floor["satisfaction_index"] == pytest.approx(400 / 9)


def test_frustration_alerts_and_list(golden_reader):
    assert (
        one_row(kpi.frustration_alerts(golden_reader, day_filter("g1"), ALL), "g1")["alerts"] == 1
    )
    listed = kpi.alert_list(golden_reader, ALL, stores=["g1"], since=datetime(2026, 3, 1))
    assert listed.height == 1
    assert listed["camera_id"][0] == "g1-checkout"
    assert "checkout" in listed["detail"][0]


def test_star_and_labour_cost(golden_reader):
    row = one_row(kpi.star(golden_reader, day_filter("g1"), ALL), "g1")
    # Shifts: a 09-13 local (4 h × 20), b 10-12 local (2 h × 25) -> 6 staff hours, 130.
    assert row["staff_hours"] == pytest.approx(6.0)
    assert row["star"] == pytest.approx(15 / 6)
    hourly = kpi.star(golden_reader, day_filter("g1", granularity="hour"), ALL)
    assert one_row(hourly, "g1", at(10))["star"] == pytest.approx(10 / 2)
    cost = one_row(kpi.labour_cost(golden_reader, day_filter("g1"), ALL), "g1")
    assert cost["labour_cost"] == pytest.approx(130.0)
    assert cost["labour_cost_per_visitor"] == pytest.approx(130 / 15)
    assert cost["labour_cost_per_transaction"] == pytest.approx(26.0)
    assert cost["labour_pct_of_sales"] == pytest.approx(100 * 130 / 120)


@pytest.mark.parametrize(
    ("arrivals", "service_s", "target_s", "servers"),
    [
        # A = 30/h × 120 s = 1 Erlang. c=1 is unstable; c=2: B(2) = 0.2, C = 0.4/1.2 = 1/3,
        # W = C·s/(c−A) = 40 s <= 60 -> 2.
        (30, 120, 60, 2),
        # Target 30 s: c=2 waits 40 s; c=3: B(3) = 0.0625, C = 0.1875/2.0625, W ≈ 5.5 s -> 3.
        (30, 120, 30, 3),
        # A = 0.1: one server, W = 0.1·120/0.9 ≈ 13.3 s.
        (3, 120, 60, 1),
        (0, 120, 60, 0),
    ],
)
def test_erlang_c_servers(arrivals, service_s, target_s, servers):
    assert kpi.erlang_c_servers(arrivals, service_s, target_s) == servers


def test_erlang_c_mean_wait_by_hand():
    assert kpi.erlang_c_wait_probability(2, 1.0) == pytest.approx(1 / 3)
    assert kpi.erlang_c_mean_wait_s(2, 30, 120) == pytest.approx(40.0)


def test_recommended_staff_and_cost_of_the_difference(golden_reader):
    targets = StaffingTargets(target_star=4, target_wait_s=60, service_time_s=120, basis="actual")
    frame = kpi.staffing(golden_reader, day_filter("g1"), ALL, targets)
    assert frame["bucket"].dt.hour().to_list() == list(range(9, 18))  # opening hours only
    ten = one_row(frame, "g1", at(10))
    # 10 visitors / STAR 4 -> 3 staff; 3 transactions/h at 120 s -> 1 till (Erlang C);
    # scheduled 2 -> under by 1, costing one hour at the mean rate 130 / 6.
    assert ten["star_staff"] == 3
    assert ten["checkout_staff"] == 1
    assert ten["recommended_staff"] == 3
    assert ten["scheduled_staff"] == pytest.approx(2.0)
    assert ten["status"] == "under"
    assert ten["cost_diff"] == pytest.approx(-130 / 6)
    eleven = one_row(frame, "g1", at(11))
    assert (eleven["recommended_staff"], eleven["status"]) == (2, "ok")
    summary = kpi.staffing_summary(frame).row(0, named=True)
    # Under: 10h, and 13-17h where nobody is scheduled but one person is the minimum.
    assert summary["hours_under"] == 6
    assert summary["hours_over"] == 0
    assert summary["cost_under"] == pytest.approx(6 * 130 / 6)


def test_store_comparison_normalised_and_week_over_week(golden_reader):
    frame = kpi.store_comparison(golden_reader, day_filter(), ALL)
    assert frame["store_id"].to_list() == ["g1", "g2"]
    g2 = one_row(frame, "g2")
    assert g2["visitors"] == 3
    assert g2["conversion"] == pytest.approx(1 / 3)
    assert g2["visitors_per_open_hour"] == pytest.approx(3 / 12)  # open 8-20, one day
    assert g2["sales_per_m2"] == pytest.approx(50 / 200)
    # 3 visitors in the week to 2026-03-02 vs 2 in the week before: +50 %.
    assert g2["visitors_wow_pct"] == pytest.approx(50.0)
    g1 = one_row(frame, "g1")
    assert g1["visitors_wow_pct"] is None  # nothing the week before: no ratio
    assert g1["sales_per_open_hour"] == pytest.approx(120 / 9)


def test_headline_dict(golden_reader):
    got = kpi.headline(golden_reader, "g1", DAY, DAY)
    assert got["visitors"] == 15
    assert got["transactions"] == 5
    assert got["conversion"] == pytest.approx(1 / 3)
    assert got["sales_per_visitor"] == pytest.approx(8.0)
    assert got["satisfaction_index"] == pytest.approx(400 / 9)
    assert got["faces_read"] == pytest.approx(0.6)
    assert got["star"] == pytest.approx(2.5)
    assert got["labour_cost_per_visitor"] == pytest.approx(130 / 15)


def test_scope_rejects_a_forged_store_id(golden_reader):
    manager = Scope.of("g2")
    with pytest.raises(AccessDenied, match="g1"):
        kpi.visitors(golden_reader, day_filter("g1"), manager)
    with pytest.raises(AccessDenied):
        kpi.headline(golden_reader, "g1", DAY, DAY, scope=manager)
    with pytest.raises(AccessDenied):
        kpi.alert_list(golden_reader, manager, stores=["g1"])
    # Asking for nothing in particular gives only what the scope allows.
    assert kpi.visitors(golden_reader, day_filter(), manager)["store_id"].unique().to_list() == [
        "g2"
    ]
    assert kpi.store_comparison(golden_reader, day_filter(), manager)["store_id"].to_list() == [
        "g2"
    ]
    # A scope with no known store sees nothing at all.
    assert kpi.visitors(golden_reader, day_filter(), Scope.of("elsewhere")).is_empty()


def test_filter_rejects_bad_ranges():
    with pytest.raises(InvalidParams):
        KpiFilter(start=date(2026, 3, 2), end=date(2026, 3, 1))
    with pytest.raises(InvalidParams):
        KpiFilter(start=DAY, end=DAY, granularity="month")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["metrics", "zone_metrics"])
def test_daily_rollups_agree_with_hourly(golden_reader, name):
    params = {"stores": ["g1", "g2"], "start": date(2026, 2, 20), "end": date(2026, 3, 5)}
    keys = ["store_id", "zone"] if name == "zone_metrics" else ["store_id"]
    hourly = golden_reader.query(name, {**params, "granularity": "hour"})
    daily = golden_reader.query(name, {**params, "granularity": "day"})
    summed = (
        hourly.group_by(*keys, pl.col("bucket").dt.truncate("1d"))
        .agg(
            pl.exclude("queue_length_max").sum(),
            *([pl.col("queue_length_max").max()] if "queue_length_max" in hourly.columns else []),
        )
        .select(hourly.columns)
    )
    nonzero = daily.filter(pl.sum_horizontal(pl.exclude(*keys, "bucket").cast(pl.Float64)) > 0)
    from polars.testing import assert_frame_equal

    assert_frame_equal(
        nonzero.sort(*keys, "bucket"), summed.sort(*keys, "bucket"), check_dtypes=False
    )


def test_a_period_without_data_gives_zeros_not_errors(golden_reader):
    quiet = KpiFilter(start=date(2026, 1, 5), end=date(2026, 1, 5))
    table = kpi.store_comparison(golden_reader, quiet, ALL)
    assert table["visitors"].to_list() == [0, 0]
    assert table["conversion"].to_list() == [None, None]
    got = kpi.headline(golden_reader, "g2", quiet.start, quiet.end)
    assert (got["visitors"], got["conversion"], got["satisfaction_index"]) == (0, None, None)


def test_week_over_week_of_a_history_shorter_than_two_weeks(tmp_path) -> None:
    """8 days of history: the week before has one day of data. Its visitors compared as a
    sum read about +600 % (7 days against 1); per day with data they read a plain change."""
    from datetime import timedelta

    from storelens.data.demo import seed_demo
    from storelens.data.reader import LocalReader

    end = date(2026, 12, 6)
    db = tmp_path / "short.duckdb"
    seed_demo(db, days=8, stores=2, seed=3, end=end)
    reader = LocalReader(db)
    try:
        frame = kpi.store_comparison(reader, KpiFilter(end - timedelta(days=6), end), ALL)
        daily = kpi.metrics(reader, KpiFilter(end - timedelta(days=7), end), ALL)
    finally:
        reader.close()
    assert frame.height == 2
    for row in frame.iter_rows(named=True):
        days = daily.filter(pl.col("store_id") == row["store_id"]).sort("bucket")
        first, rest = days["visitors"][0], days["visitors"][1:]
        expected = (rest.sum() / rest.len() / first - 1) * 100  # mean day vs the one day
        assert row["visitors_wow_pct"] == pytest.approx(expected, rel=1e-6)
        assert abs(row["visitors_wow_pct"]) < 100
