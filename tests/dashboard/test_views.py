"""Pure helpers of the dashboard: filters from URLs, KPI shaping, settings, privacy text."""

from __future__ import annotations

import tomllib
from datetime import date, datetime

import plotly.graph_objects as go
import polars as pl
import pytest
from storelens.dashboard import charts, views
from storelens.dashboard.filters import parse_filters
from storelens.dashboard.privacy import inventory, signage_text
from storelens.dashboard.settings import save_store_config, to_toml, with_camera
from storelens.data import kpi
from storelens.kernel.config import CameraConfig, PrivacyConfig, StoreLensConfig, parse_config

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("params", "expected", "warned"),
    [
        ({}, (None, date(2026, 3, 4), TODAY, "day"), 0),
        (
            {"store": "s1", "from": "2026-03-01", "to": "2026-03-02", "granularity": "hour"},
            ("s1", date(2026, 3, 1), date(2026, 3, 2), "hour"),
            0,
        ),
        ({"from": "yesterday"}, (None, date(2026, 3, 4), TODAY, "day"), 1),
        ({"from": "2026-03-09", "to": "2026-03-01"}, (None, date(2026, 3, 4), TODAY, "day"), 1),
        ({"granularity": "minute"}, (None, date(2026, 3, 4), TODAY, "day"), 1),
        ({"from": "2020-01-01", "to": "2026-03-10"}, (None, date(2025, 3, 10), TODAY, "day"), 1),
    ],
)
def test_parse_filters(params: dict, expected: tuple, warned: int) -> None:
    flt, warnings = parse_filters(params, TODAY)
    assert (flt.store, flt.start, flt.end, flt.granularity) == expected
    assert len(warnings) == warned


@pytest.mark.parametrize(
    ("start", "end", "before"),
    [
        (date(2026, 3, 10), date(2026, 3, 10), (date(2026, 3, 3), date(2026, 3, 3))),
        (date(2026, 3, 4), date(2026, 3, 10), (date(2026, 2, 25), date(2026, 3, 3))),
        (date(2026, 3, 1), date(2026, 3, 10), (date(2026, 2, 15), date(2026, 2, 24))),
    ],
)
def test_comparison_period_keeps_weekdays(start: date, end: date, before: tuple) -> None:
    got = views.comparison_period(start, end)
    assert got == before and got[0].weekday() == start.weekday()


def test_satisfaction_hidden_below_min_group() -> None:
    hour = datetime(2026, 3, 10, 10)
    zone = pl.DataFrame(
        {
            "zone": ["a", "a", "b"],
            "bucket": [hour, hour.replace(day=9), hour],
            "tracks_readable": [3, 2, 4],
            "satisfied": [3, 1, 4],
            "frustrated": [0, 1, 0],
        }
    )
    out = views.satisfaction_by_zone_hour(zone, min_group=5).sort("zone")
    # zone a: 5 readable over two days at 10:00 -> (4 - 1) / 5 = +60; zone b: 4 < 5 -> hidden
    index = out["satisfaction_index"].to_list()
    assert index[0] == pytest.approx(60.0) and index[1] is None
    # With its 95 % interval: 5 tracks, 4 satisfied and 1 frustrated, var = 1 - 0.6² = 0.64,
    # half-width 1.96 × sqrt(0.64 / 5) = 0.70 -> [-10, +100] after clipping.
    assert out["satisfaction_low"][0] == pytest.approx(100 * (0.6 - 1.96 * (0.64 / 5) ** 0.5))
    assert out["satisfaction_high"][0] == pytest.approx(100.0)
    assert out["satisfaction_low"][1] is None
    fig = charts.satisfaction_heatmap(out)
    assert fig.data[0].z[1][0] is None  # drawn blank, not as a number


def test_outliers_flag_the_far_store_only() -> None:
    frame = pl.DataFrame(
        {"store_id": list("abcdef"), "queue_wait_s_avg": [60.0, 62.0, 58.0, 61.0, 59.0, 400.0]}
    )
    out = views.flag_outliers(frame, ["queue_wait_s_avg"])
    assert out["outliers"].to_list() == ["", "", "", "", "", "queue_wait_s_avg"]


def test_rank_stores_names_why() -> None:
    comparison = pl.DataFrame(
        {
            "store_id": ["good", "mid", "bad"],
            "name": ["G", "M", "B"],
            "conversion": [0.5, 0.4, 0.2],
            "queue_wait_s_avg": [60.0, 90.0, 300.0],
        }
    )
    ranked = views.rank_stores(comparison)
    assert ranked["store_id"].to_list() == ["good", "mid", "bad"]
    assert "Queue wait" in ranked["weaknesses"][2] and "Conversion" in ranked["weaknesses"][2]


def test_charts_accept_empty_frames() -> None:
    empty = pl.DataFrame(
        schema={"bucket": pl.Datetime, "visitors": pl.Int64, "transactions": pl.Int64}
    )
    assert isinstance(charts.visitors_transactions(empty), go.Figure)
    assert isinstance(
        charts.staffing(
            pl.DataFrame(
                schema={
                    "bucket": pl.Datetime,
                    "scheduled_staff": pl.Float64,
                    "recommended_staff": pl.Int64,
                    "status": pl.String,
                }
            )
        ),
        go.Figure,
    )


def test_settings_toml_round_trip(tmp_path) -> None:
    config = parse_config({"store": {"store_id": "s1", "name": 'Store "One"'}}, "test")
    camera = CameraConfig(
        camera_id="cam-1",
        name="Door",
        source="rtsp://u:p@h/x",
        role="entrance",
        lines=[{"name": "in", "start": (0, 10), "end": (100, 10)}],
        zones=[{"name": "q", "kind": "queue", "polygon": [(0, 0), (50, 0), (50, 50)]}],
    )
    config = with_camera(config, camera)
    path = save_store_config(config, tmp_path / "store.toml")
    loaded = parse_config(tomllib.loads(path.read_text()), "reload")
    assert loaded == config
    assert to_toml(loaded) == to_toml(config)


def test_inventory_and_signage_follow_privacy_settings() -> None:
    sizes = pl.DataFrame({"table": ["detections", "events"], "rows": [10, 20]})
    privacy = PrivacyConfig(detections_retention_days=3, events_retention_days=30)
    table = inventory(sizes, privacy=privacy)
    row = table.filter(pl.col("table") == "detections").row(0, named=True)
    assert row["retention"].startswith("3 days") and row["rows"] == 10
    assert "never stored" in table["retention"].to_list()
    text = signage_text(days={"detections": 3, "events": 30})
    assert "after 3 days" in text and "30 days" in text
    assert StoreLensConfig().privacy.min_group_size >= 2


def test_position_heatmap_grid() -> None:
    cells = pl.DataFrame({"x_bin": [0, 3, 3], "y_bin": [0, 1, 1], "people": [2, 1, 4]})
    fig = charts.position_heatmap(cells, x_bins=4, y_bins=2)
    assert [list(row) for row in fig.data[0].z] == [[2, 0, 0, 0], [0, 0, 0, 5]]


def test_lines_break_over_closed_hours() -> None:
    hours = [datetime(2026, 3, 9, h) for h in (9, 10, 11)] + [datetime(2026, 3, 10, 9)]
    frame = pl.DataFrame({"bucket": hours, "conversion": [0.2, 0.3, 0.25, 0.4]})
    y = charts.conversion(frame).data[0].y
    assert list(y) == [0.2, 0.3, 0.25, None, 0.4]


# Issue 20 item 6: the score and the labels come from data.kpi, once.
def test_the_dashboard_ranks_by_this_score() -> None:
    frame = pl.DataFrame(
        {
            "store_id": ["x", "y", "z", "w"],
            "conversion": [0.5, 0.4, 0.2, 0.4],
            "satisfaction_index": [20.0, 0.0, -10.0, 5.0],
            "visitors_per_m2": [2.0, 1.0, 1.5, 1.0],
        }
    )
    ranked = views.rank_stores(frame)
    expected = dict(
        zip(
            frame["store_id"],
            [
                kpi.median_deviation_score(d)
                for d in kpi.deviations_from_median(frame, kpi.score_kpis())
            ],
            strict=True,
        )
    )
    assert dict(zip(ranked["store_id"], ranked["score"], strict=True)) == pytest.approx(expected)


def test_every_kpi_a_page_shows_is_presented_once() -> None:
    shown = {
        *kpi.HEADLINE_FIGURES,
        *kpi.SCORE_KPIS,
        *(k for k, *_ in views.HEADLINE),
        *(k for k, *_ in views.LEADERBOARD),
        *(k for k, _ in views.SATISFACTION_CONTEXT),
    }
    assert shown <= set(kpi.PRESENTATION), shown - set(kpi.PRESENTATION)
    for key, look in kpi.PRESENTATION.items():
        assert look.key == key
        assert look.text(1.5) and look.text(None) == "—"
        assert look.column_format == "percent" or look.column_format.startswith("%")
    # The pages' tuples are the table's, not copies of it.
    for key, label, fmt, up in views.HEADLINE:
        look = kpi.PRESENTATION[key]
        assert (label, fmt, up) == (look.label, look.fmt, look.higher_is_better)
    for key, header, up in views.LEADERBOARD:
        look = kpi.PRESENTATION[key]
        assert (header, up) == (look.column_header, look.higher_is_better)
