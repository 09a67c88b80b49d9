"""A metric's change and its arrow colour (issue 19 item 10): a change that rounds to zero
("+0.0%", "+0 pts") is grey, not a red or green arrow; otherwise green is the KPI's better
direction as data/kpi/presentation.py says it (lower queue wait is better)."""

from __future__ import annotations

import pytest
from storelens.dashboard import views


@pytest.mark.parametrize(
    ("key", "now", "before", "shown", "color"),
    [
        ("visitors", 1000, 1000, "+0.0%", "off"),
        ("visitors", 10_001, 10_000, "+0.0%", "off"),  # +0.01 % rounds to zero
        ("visitors", 9_999, 10_000, "-0.0%", "off"),
        ("visitors", 1100, 1000, "+10.0%", "normal"),
        ("visitors", 900, 1000, "-10.0%", "normal"),  # st.metric: red because down
        ("queue_wait_s_avg", 39, 48, "-18.8%", "inverse"),  # lower wait is better
        ("queue_wait_s_avg", 48.01, 48, "+0.0%", "off"),
        ("satisfaction_index", 12.3, 12.1, "+0 pts", "off"),  # index: points, rounded
        ("satisfaction_index", 15, 12, "+3 pts", "normal"),
        ("conversion", 0.25, None, None, "off"),  # nothing to compare with
        ("conversion", None, 0.25, None, "off"),
    ],
)
def test_metric_delta(key: str, now: float, before: float, shown: str | None, color: str) -> None:
    assert views.metric_delta(key, now, before) == (shown, color)


@pytest.mark.parametrize(
    ("shown", "higher_is_better", "color"),
    [
        ("+0 s vs 240 s target", False, "off"),  # the target's digits are not the change
        ("+15 s vs 240 s target", False, "inverse"),
        ("+0.0 pts vs 12.0%", True, "off"),
        ("−2.5 pts vs 12.0%", True, "normal"),
        ("€1,200 vs rota", False, "inverse"),
        ("+4 %", None, "off"),  # neither direction is better: no colour
        (None, True, "off"),
    ],
)
def test_delta_color(shown: str | None, higher_is_better: bool | None, color: str) -> None:
    assert views.delta_color(shown, higher_is_better) == color
