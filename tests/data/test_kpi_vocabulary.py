"""One vocabulary: every KPI agrees across grains, and the metric list drives the SQL.

Each KPI is defined once (``kpi.kpi_exprs``) over metric sums, and each metric once
(``data.vocabulary.METRICS``). These tables check, on the golden database, that a KPI read
at the day / week grain, for the period (headline, store comparison) and per zone equals
the same KPI computed from the hourly metrics summed to that grain; and that the named
queries, the empty frames and the period sums carry exactly the vocabulary's metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from storelens.data import kpi, vocabulary
from storelens.data.kpi import KpiFilter, Scope
from storelens.data.vocabulary import METRICS, ZONE_METRICS

ALL = Scope.everything()
NOBODY = Scope.of("no-such-store")
# Covers every golden row (2026-02-23 .. 2026-03-02) with empty days on both sides.
PERIOD = KpiFilter(start=date(2026, 2, 16), end=date(2026, 3, 8), granularity="hour")
STORES = ["g1", "g2"]

KpiFunction = Callable[..., pl.DataFrame]

# Every KPI, the public per-bucket function that returns it, its column there and whether
# that function also reads per zone.
PER_BUCKET: list[tuple[str, KpiFunction, str, bool]] = [
    ("conversion", kpi.conversion, "conversion", False),
    ("sales_per_visitor", kpi.sales_per_visitor, "sales_per_visitor", False),
    ("satisfaction_index", kpi.satisfaction, "satisfaction_index", True),
    ("satisfaction_low", kpi.satisfaction, "satisfaction_low", True),
    ("satisfaction_high", kpi.satisfaction, "satisfaction_high", True),
    ("faces_read", kpi.satisfaction, "faces_read", True),
    ("star", kpi.star, "star", False),
    ("labour_cost_per_visitor", kpi.labour_cost, "labour_cost_per_visitor", False),
    ("labour_cost_per_transaction", kpi.labour_cost, "labour_cost_per_transaction", False),
    ("labour_pct_of_sales", kpi.labour_cost, "labour_pct_of_sales", False),
    ("avg_dwell_s", kpi.dwell, "avg_dwell_s", True),
    ("queue_length_avg", kpi.queue, "queue_length_avg", True),
    ("wait_measured_s", kpi.queue, "wait_measured_s", True),
    ("wait_littles_s", kpi.queue, "wait_littles_s", True),
    ("queue_wait_s_avg", kpi.queue, "wait_s", True),
    ("wait_method", kpi.queue, "wait_method", True),
]
KPI_NAMES = [row[0] for row in PER_BUCKET]

# KPIs whose inputs add up over zones to the store's: dwell (each zone visit belongs to
# one zone) and queue joins, leaves, waits and lengths (the store's length is the sum of
# its queue zones'). Not satisfaction (a track may visit several zones, or none) and not
# the mean queue length (a store hour is sampled once, each zone hour once per zone).
ZONE_ADDITIVE = ["avg_dwell_s", "wait_measured_s", "wait_littles_s", "queue_wait_s_avg"]


def _truncate(granularity: str) -> pl.Expr:
    every = {"day": "1d", "week": "1w"}[granularity]
    return pl.col("bucket").dt.truncate(every).alias("bucket")


def _hourly(reader, by_zone: bool = False) -> pl.DataFrame:
    if by_zone:
        return kpi.zone_metrics(reader, PERIOD, ALL)
    return kpi.metrics(reader, PERIOD, ALL)


def _same(got: pl.DataFrame, want: pl.DataFrame, keys: list[str], column: str) -> None:
    assert_frame_equal(
        got.select(*keys, column).sort(keys),
        want.select(*keys, column).sort(keys),
        check_dtypes=False,
        abs_tol=1e-9,
    )


def test_the_table_covers_every_kpi():
    assert sorted(KPI_NAMES) == sorted(kpi.kpi_exprs())


@pytest.mark.parametrize("granularity", ["day", "week"])
@pytest.mark.parametrize(("name", "function", "column", "_zoned"), PER_BUCKET)
def test_hours_summed_to_a_bucket_equal_the_bucket(
    golden_reader, name, function, column, _zoned, granularity
):
    """Day and week buckets come from the daily rollups; the hours from the hourly ones."""
    read = function(golden_reader, PERIOD.with_(granularity=granularity), ALL)
    keys = ["store_id", "bucket"]
    summed = kpi.summarize(_hourly(golden_reader), ["store_id", _truncate(granularity)])
    _same(read.rename({column: name}), summed, keys, name)


@pytest.mark.parametrize(
    ("name", "function", "column"), [(n, f, c) for n, f, c, zoned in PER_BUCKET if zoned]
)
def test_zone_hours_summed_to_a_day_equal_the_zone_day(golden_reader, name, function, column):
    read = function(golden_reader, PERIOD.with_(granularity="day"), ALL, by_zone=True)
    keys = ["store_id", "zone", "bucket"]
    summed = kpi.summarize(_hourly(golden_reader, True), ["store_id", "zone", _truncate("day")])
    _same(read.rename({column: name}), summed, keys, name)


@pytest.mark.parametrize("name", KPI_NAMES)
def test_hours_summed_to_the_period_equal_the_store_comparison(golden_reader, name):
    period = kpi.summarize(_hourly(golden_reader), ["store_id"])
    comparison = kpi.store_comparison(golden_reader, PERIOD.with_(granularity="day"), ALL)
    _same(comparison, period, ["store_id"], name)


@pytest.mark.parametrize("name", KPI_NAMES)
def test_the_chain_total_is_every_hour_summed(golden_reader, name):
    """The Summary page's totals: all stores as one, never a mean of store ratios."""
    comparison = kpi.store_comparison(golden_reader, PERIOD.with_(granularity="day"), ALL)
    hourly = _hourly(golden_reader).with_columns(pl.lit("chain").alias("chain"))
    expected = kpi.summarize(hourly, ["chain"]).row(0, named=True)[name]
    got = kpi.totals(comparison)[name]
    assert got == (
        expected if expected is None or isinstance(expected, str) else pytest.approx(expected)
    )


def test_the_total_of_nothing_is_zero_with_no_ratios(golden_reader):
    quiet = kpi.store_comparison(golden_reader, KpiFilter(date(2026, 1, 5), date(2026, 1, 5)), ALL)
    total = kpi.totals(quiet)
    assert (total["visitors"], total["conversion"]) == (0, None)
    assert kpi.totals(quiet.clear())["visitors"] == 0


@pytest.mark.parametrize("store", STORES)
@pytest.mark.parametrize("name", [n for n in KPI_NAMES if n in kpi.HEADLINE_FIGURES])
def test_the_headline_equals_the_store_comparison(golden_reader, name, store):
    headline = kpi.headline(golden_reader, store, PERIOD.start, PERIOD.end)
    comparison = kpi.store_comparison(golden_reader, PERIOD.with_(stores=(store,)), ALL)
    expected = comparison.row(0, named=True)[name]
    assert headline[name] == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("name", ZONE_ADDITIVE)
def test_zones_summed_equal_the_store(golden_reader, name):
    zones = kpi.summarize(_hourly(golden_reader, by_zone=True), ["store_id"])
    store = kpi.summarize(_hourly(golden_reader), ["store_id"])
    # A store without zones (g2 has only an entrance) has no zone rows to sum.
    _same(
        zones,
        store.filter(pl.col("store_id").is_in(zones["store_id"].to_list())),
        ["store_id"],
        name,
    )


def test_the_views_agree_with_the_kpi_functions(golden_reader):
    from storelens.dashboard import views

    g1 = PERIOD.with_(stores=("g1",))  # g1's golden rows are all on 2026-03-02
    zone_hourly = kpi.zone_metrics(golden_reader, g1, ALL)
    zone_daily = kpi.zone_metrics(golden_reader, g1.with_(granularity="day"), ALL)
    assert_frame_equal(views.dwell_by_zone(zone_hourly), views.dwell_by_zone(zone_daily))
    # One day of data: zone × hour of day is zone × hour bucket.
    table = views.satisfaction_by_zone_hour(zone_hourly)
    read = kpi.satisfaction(golden_reader, g1, ALL, by_zone=True).with_columns(
        pl.col("bucket").dt.hour().alias("hour")
    )
    for column in (
        "tracks_readable",
        "satisfaction_index",
        "satisfaction_low",
        "satisfaction_high",
    ):
        _same(table, read, ["zone", "hour"], column)
    metrics = kpi.metrics(golden_reader, g1, ALL)
    store_page = kpi.with_kpis(metrics).select("store_id", "bucket", "conversion")
    _same(store_page, kpi.conversion(golden_reader, g1, ALL), ["store_id", "bucket"], "conversion")


# ---------------------------------------------------------------- queue wait, one rule


@pytest.mark.parametrize(
    ("joins", "leaves", "waited_s", "length_sum", "wait_s", "method"),
    [
        # 10 joins, 8 measured leaves (80 %): measured mean 600 / 8.
        (10, 8, 600.0, 2.0, 75.0, "measured"),
        # 10 joins, 7 leaves (< 80 %): broken tracks, L / λ = 2 · 3600 / 10.
        (10, 7, 600.0, 2.0, 720.0, "littles_law"),
        # Leaves of people who joined the hour before, nobody joined: no wait to show.
        (0, 2, 100.0, 0.5, None, None),
        (0, 0, 0.0, 0.0, None, None),
    ],
)
def test_queue_wait_is_one_rule_at_every_grain(joins, leaves, waited_s, length_sum, wait_s, method):
    """The period grain (headline, comparison) once had its own copy with a hard-coded 0.8
    that also showed a wait where nobody joined; now every grain uses queue_wait_exprs."""
    row = pl.DataFrame(
        {
            "store_id": ["s"],
            "queue_joins": [joins],
            "queue_leaves": [leaves],
            "queue_wait_s": [waited_s],
            "queue_length_sum": [length_sum],
            "queue_sampled_hours": [1],
        }
    )
    bucket = row.select(kpi.queue_wait_exprs()).row(0, named=True)
    period = kpi.summarize(row, ["store_id"]).row(0, named=True)
    for got in (bucket, period):
        assert got["wait_method"] == method
        assert got["queue_wait_s_avg"] == (None if wait_s is None else pytest.approx(wait_s))


def test_the_intact_share_is_one_setting():
    row = pl.DataFrame({"queue_joins": [10], "queue_leaves": [6], "queue_wait_s": [60.0]})
    row = row.with_columns(queue_length_sum=pl.lit(1.0))
    strict = row.select(kpi.queue_wait_exprs()).row(0, named=True)
    lenient = row.select(kpi.queue_wait_exprs(intact_share=0.5)).row(0, named=True)
    assert (strict["wait_method"], lenient["wait_method"]) == ("littles_law", "measured")
    assert kpi.QUEUE_INTACT_SHARE == 0.8


# ---------------------------------------------------------------- the vocabulary drives SQL


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


@pytest.mark.parametrize("granularity", ["hour", "day", "week"])
@pytest.mark.parametrize(
    ("query", "keys", "by_zone"),
    [
        ("metrics", {"store_id": pl.String, "bucket": pl.Datetime("us")}, False),
        (
            "zone_metrics",
            {"store_id": pl.String, "zone": pl.String, "bucket": pl.Datetime("us")},
            True,
        ),
    ],
)
def test_queries_and_empty_frames_carry_exactly_the_metrics(
    golden_reader, query, keys, by_zone, granularity
):
    flt = PERIOD.with_(granularity=granularity)
    params = {"stores": STORES, "start": flt.start, "end": flt.end, "granularity": granularity}
    read = golden_reader.query(query, params)
    expected = vocabulary.schema(keys, by_zone=by_zone)
    assert read.schema == expected
    reader_fn = kpi.zone_metrics if by_zone else kpi.metrics
    assert reader_fn(golden_reader, flt, NOBODY).schema == expected  # nothing in scope


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.name)
def test_every_metric_is_a_rollup_column(golden_db_master, metric):
    con = duckdb.connect(str(golden_db_master), read_only=True)
    try:
        hourly_table = vocabulary.HOURLY_TABLES[metric.source]
        assert (metric.hourly_column or metric.name) in _columns(con, hourly_table)
        assert metric.name in _columns(con, vocabulary.DAILY_STORE_TABLE)
        in_zone = metric.name in _columns(con, vocabulary.DAILY_ZONE_TABLE)
        assert in_zone == metric.per_zone
        if metric.per_zone:
            hourly_zone = _columns(con, vocabulary.HOURLY_ZONE_TABLE)
            assert (metric.hourly_column or metric.name) in hourly_zone
    finally:
        con.close()


def test_the_daily_rollups_have_no_column_the_vocabulary_lacks(golden_db_master):
    con = duckdb.connect(str(golden_db_master), read_only=True)
    try:
        store = _columns(con, vocabulary.DAILY_STORE_TABLE)
        zone = _columns(con, vocabulary.DAILY_ZONE_TABLE)
    finally:
        con.close()
    assert store == ["store_id", "day", *(m.name for m in METRICS)]
    assert zone == ["store_id", "day", "zone", *(m.name for m in ZONE_METRICS)]


def test_period_sums_and_chain_columns_come_from_the_vocabulary(golden_reader):
    comparison = kpi.store_comparison(golden_reader, PERIOD.with_(granularity="day"), ALL)
    assert {m.name for m in METRICS} <= set(comparison.columns)
    assert set(vocabulary.TRAFFIC_COLUMNS) == {m.name for m in METRICS if m.source == "traffic"}


def test_a_new_metric_reaches_the_sql_without_another_edit():
    extra = vocabulary.Metric("greetings", pl.Int64, "traffic", per_zone=True)
    assert extra.sql(hourly=True) == "sum(greetings)::BIGINT AS greetings"
    peak = vocabulary.Metric("greeters_max", pl.Int32, "staff", aggregate="max")
    assert peak.sql(hourly=False) == "max(greeters_max)::INTEGER AS greeters_max"
    frame = pl.DataFrame(
        {"store_id": ["s", "s"], "greetings": [1, 2], "when": [datetime.now()] * 2}
    )
    assert frame.group_by("store_id").agg(extra.polars())["greetings"].to_list() == [3]
