"""A metric's change and its arrow colour (issue 19 item 10): a change that rounds to zero
("+0.0%", "+0 pts") is grey, not a red or green arrow; otherwise green is the KPI's better
direction as data/kpi/presentation.py says it (lower queue wait is better)."""

from __future__ import annotations

from pathlib import Path

import pytest
from storelens.dashboard import views

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


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


@pytest.mark.parametrize(
    ("shown", "arrow"),
    [
        ("+0.0%", "off"),
        ("-0.0%", "off"),
        ("+0 pts", "off"),
        ("+0 s vs 240 s target", "off"),
        ("+10.0%", "auto"),
        ("−3 pts", "auto"),
        (None, "off"),
    ],
)
def test_no_arrow_for_a_change_that_rounds_to_zero(shown: str | None, arrow: str) -> None:
    assert views.delta_arrow(shown) == arrow


def test_store_page_draws_no_coloured_arrow_for_an_unchanged_week(dashboard_env: Path) -> None:
    # The dashboard database repeats the same day, so every headline change is +0.0 % / +0
    # pts: each is grey, without an arrow.
    from storelens.dashboard.auth import Role, User
    from streamlit.proto.Metric_pb2 import Metric
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=90)
    at.session_state["storelens_user"] = User("mia", Role.STORE_MANAGER, store="s1")
    at.run()
    at.switch_page("screens/store.py").run()
    assert not at.exception, [e.value for e in at.exception]
    changes = [m for m in at.metric if m.delta]
    assert len(changes) >= 5
    for metric in changes:
        assert metric.delta in ("+0.0%", "-0.0%", "+0 pts", "-0 pts"), metric.delta
        assert metric.proto.color == Metric.MetricColor.GRAY, metric.label
        assert metric.proto.direction == Metric.MetricDirection.NONE, metric.label
