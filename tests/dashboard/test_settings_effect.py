"""Saved settings take effect (issue 10, item 6), end to end through the pages: an admin
saves them with Setup's own form, then a new session (what a restart gives every user)
shows the effect. The report was: minimum group 1000 saved, yet the Store heatmap still
showed cells of 8-312 faces under a caption "fewer than 5".

Settings the pipeline applies (retention, face blurring) are checked on the config the
launcher resolves at start, which is what the pipeline is built from.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MANAGER = User("mia", Role.STORE_MANAGER, store="s1")
ADMIN = User("ada", Role.ADMIN)


def open_page(user: User, page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def heatmap_cells(at: AppTest) -> list[float]:
    """The shown (non-blank) cells of the Store page's satisfaction heatmap."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for trace in spec.get("data", []):
            if trace.get("type") == "heatmap":
                return [v for row in trace.get("z", []) for v in row if v is not None]
    raise AssertionError("no heatmap on the page")


def satisfaction_metric(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "Satisfaction index")


def satisfaction_columns(at: AppTest) -> list[bool]:
    """Per leaderboard on the page: whether its satisfaction column is blank throughout."""
    frames = [d.value for d in at.dataframe if "satisfaction_index" in d.value.columns]
    assert frames, "no table with a satisfaction column"
    return [bool(f["satisfaction_index"].isna().all()) for f in frames]


def number_input(at: AppTest, label: str):
    return next(n for n in at.number_input if n.label == label)


def save_privacy(min_group: int) -> None:
    at = open_page(ADMIN, "setup")
    number_input(at, "Minimum group for satisfaction").set_value(min_group)
    next(b for b in at.button if b.label == "Save privacy settings").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Saved to" in s.value for s in at.success), [e.value for e in at.error]


def test_saved_minimum_group_hides_small_groups_everywhere(dashboard_env: Path) -> None:
    store = {"store": "s1", "store_tab": "Satisfaction and queue"}  # the heatmap's tab
    # Five days of s1: ~360 readable faces, so the 1000 minimum hides it on Compare too.
    today = datetime.now(UTC).date()
    days = {"from": str(today - timedelta(days=4)), "to": str(today)}
    assert not all(satisfaction_columns(open_page(MANAGER, "compare", days)))
    before = open_page(MANAGER, "store", store)
    assert heatmap_cells(before), "the default minimum group shows some cells"
    assert satisfaction_metric(before) != "—"
    assert any("fewer than 5 readable faces" in c.value for c in before.caption)

    save_privacy(1000)
    saved = (dashboard_env.parent / "home" / "store.toml").read_text()
    assert "min_group_size = 1000" in saved

    after = open_page(MANAGER, "store", store)  # a new session, as after a restart
    assert heatmap_cells(after) == []  # s1 has ~500 readable faces a week: all hidden
    assert satisfaction_metric(after) == "—"
    assert any("fewer than 1000 readable faces" in c.value for c in after.caption)

    assert all(satisfaction_columns(open_page(MANAGER, "compare", days)))


def test_saved_pipeline_settings_are_what_the_pipeline_starts_with(
    dashboard_env: Path, monkeypatch
) -> None:
    from storelens.app.pipeline_process import resolve_config, retention_policy

    monkeypatch.delenv("STORELENS_CONFIG", raising=False)
    at = open_page(ADMIN, "setup")
    number_input(at, "Keep person boxes (days)").set_value(3)
    number_input(at, "Keep visit events (days)").set_value(30)
    assert not [c for c in at.checkbox if "blur" in c.label.lower()], "blur is not a setting"
    next(b for b in at.button if b.label == "Save privacy settings").click()
    at.run()
    assert not at.exception

    config = resolve_config(None)  # what `storelens up` / `storelens pipeline` start from
    assert "blur" not in (dashboard_env.parent / "home" / "store.toml").read_text()
    policy = retention_policy(config)
    assert (policy.detections, policy.events, policy.tracks) == (3, 30, 30)
