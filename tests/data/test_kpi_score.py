"""The store score's formula (issue 20 item 6) and the one presentation table the pages read."""

from __future__ import annotations

import polars as pl
import pytest
from storelens.data import kpi
from storelens.data.kpi.score import Deviation


def _score(frame: pl.DataFrame, kpis: list[tuple[str, bool]]) -> list[float]:
    return [kpi.median_deviation_score(d) for d in kpi.deviations_from_median(frame, kpis)]


def test_score_is_50_plus_50_times_the_mean_clipped_deviation_from_the_median() -> None:
    frame = pl.DataFrame(
        {
            "store_id": ["good", "mid", "bad"],
            "conversion": [0.5, 0.4, 0.2],  # median 0.4: +25 %, 0, −50 %
            "queue_wait_s_avg": [60.0, 90.0, 300.0],  # median 90, lower is better
        }
    )
    good, mid, bad = _score(frame, [("conversion", True), ("queue_wait_s_avg", False)])
    # good: (+0.25 + +1/3) / 2; bad: (−0.5 + clip(−210/90 → −1)) / 2.
    assert good == pytest.approx(50 + 50 * (0.25 + 30 / 90) / 2)
    assert mid == pytest.approx(50.0)
    assert bad == pytest.approx(50 + 50 * (-0.5 - 1.0) / 2)


def test_an_index_deviates_in_points_and_gaps_are_left_out() -> None:
    frame = pl.DataFrame(
        {
            "store_id": ["a", "b", "c"],
            "satisfaction_index": [10.0, 0.0, -40.0],  # median 0: 50 points = full scale
            "sales": [0.0, 0.0, 0.0],  # median 0: no relative change, left out
            "conversion": [0.3, None, 0.3],  # b has no value: left out for b only
        }
    )
    kpis = [("satisfaction_index", True), ("sales", True), ("conversion", True)]
    a, b, c = kpi.deviations_from_median(frame, kpis)
    assert [d.kpi for d in a] == ["satisfaction_index", "conversion"]
    assert [d.kpi for d in b] == ["satisfaction_index"]
    assert a[0].relative == pytest.approx(10 / 50) and c[0].relative == pytest.approx(-40 / 50)
    assert _score(frame, kpis) == pytest.approx([50 + 50 * 0.2 / 2, 50.0, 50 - 50 * 0.8 / 2])


def test_no_deviation_scores_50_and_one_kpi_cannot_swamp_the_rest() -> None:
    assert kpi.median_deviation_score([]) == 50.0
    huge = Deviation("visitors", 1e6, 1.0, 1e6, 1e6)
    assert kpi.median_deviation_score([huge]) == 100.0
    assert kpi.median_deviation_score([huge, Deviation("star", 0.0, 1.0, -1.0, -1.0)]) == 50.0
