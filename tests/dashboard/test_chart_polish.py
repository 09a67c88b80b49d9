"""What a manager noticed on the charts (issue 10, item 10): every colour in a legend is
explained, axes have round ticks, no "(red: outlier)" without a red bar, twelve trend lines
in twelve colours, STAR explained, no empty chart with meaningless axes, and the signage
text wraps instead of being cut off."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from storelens.dashboard import charts
from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
T0 = datetime(2026, 3, 2, 9)


def test_staffing_legend_names_every_colour() -> None:
    df = pl.DataFrame(
        {
            "bucket": [T0 + timedelta(hours=h) for h in range(3)],
            "scheduled_staff": [2.0, 1.0, 3.0],
            "recommended_staff": [2, 2, 1],
            "status": ["ok", "under", "over"],
        }
    )
    fig = charts.staffing(df)
    bars = {t.name: t.marker.color for t in fig.data if t.type == "bar"}
    assert bars == {
        "scheduled: as recommended": charts.GREY,
        "scheduled: over-staffed": charts.ORANGE,
        "scheduled: under-staffed": charts.RED,
    }
    assert fig.layout.showlegend
    # Each hour is drawn once, in its status's colour.
    under = next(t for t in fig.data if t.name == "scheduled: under-staffed")
    assert list(under.y) == [None, 1.0, None]


def test_wait_axis_has_its_own_round_ticks() -> None:
    df = pl.DataFrame(
        {
            "bucket": [T0 + timedelta(hours=h) for h in range(4)],
            "queue_length_avg": [1.0, 3.0, 7.0, 2.0],
            "wait_s": [30.0, 65.0, 130.0, 40.0],
        }
    )
    y2 = charts.queue(df).layout.yaxis2
    assert y2.tickmode == "auto" and y2.showgrid is False  # not synced to the people axis


def test_outlier_note_only_with_a_red_bar() -> None:
    df = pl.DataFrame({"store_id": ["a", "b"], "conversion": [0.3, 0.1]})
    assert "red" not in charts.leaderboard_bars(df, "conversion", "Conversion").layout.title.text
    flagged = charts.leaderboard_bars(df, "conversion", "Conversion", {"b"})
    assert "(red: outlier)" in flagged.layout.title.text
    assert charts.RED in flagged.data[0].marker.color
    gone = charts.leaderboard_bars(df, "conversion", "Conversion", {"zz"})  # not shown
    assert "red" not in gone.layout.title.text


def test_twelve_stores_twelve_colours() -> None:
    rows = [
        {"store_id": f"s{i:02d}", "bucket": T0 + timedelta(days=d), "visitors": i * 10 + d}
        for i in range(12)
        for d in range(3)
    ]
    names = {f"s{i:02d}": f"Store {i}" for i in range(12)}
    fig = charts.kpi_trend(pl.DataFrame(rows), "visitors", "Visitors", names=names)
    colours = [t.line.color for t in fig.data if t.line.color != charts.CONTEXT_GREY]
    assert len(colours) == 12 and len(set(colours)) == 12
    # Small multiples (issue 19, item 10): a panel per store, titled with its name, its own
    # line over a grey band from the lowest to the highest store, every panel on the first
    # panel's y scale.
    titles = [a.text for a in fig.layout.annotations]
    assert titles == [f"<b>Store {i}</b>" for i in range(12)]
    panels: dict[str, list] = {}
    for trace in fig.data:
        panels.setdefault(trace.xaxis or "x", []).append(trace)
    assert len(panels) == 12
    for traces in panels.values():
        low, high, own = traces
        assert {low.line.color, high.line.color} == {charts.CONTEXT_GREY}
        assert low.hoverinfo == high.hoverinfo == "skip" and high.fill == "tonexty"
        # The pack: store 0 is lowest (d), store 11 highest (110 + d) on every day d.
        assert list(low.y) == [0, 1, 2] and list(high.y) == [110, 111, 112]
        assert own.name.startswith("Store ") and own.name in own.hovertemplate
    assert all(fig.layout[f"yaxis{k}"].matches == "y" for k in range(2, 13))


def _page(user: User, page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_no_empty_people_chart_for_a_camera_without_people(dashboard_env: Path) -> None:
    at = _page(User("eve", Role.EXECUTIVE), "live", {"store": "s2"})  # no detections at s2
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert not any("People per minute" in t for t in titles)
    assert any("nobody seen in the last hour" in c.value for c in at.caption)


def test_star_is_explained_and_signage_wraps(dashboard_env: Path) -> None:
    compare = _page(User("eve", Role.EXECUTIVE), "compare")
    assert "STAR (visitors per staff hour)" in [o for s in compare.selectbox for o in s.options]
    privacy = _page(User("eve", Role.EXECUTIVE), "privacy")
    assert all(c.proto.wrap_lines for c in privacy.code)


def _cells() -> pl.DataFrame:
    return pl.DataFrame({"x_bin": [1, 2], "y_bin": [0, 3], "people": [4, 2]})


def test_position_heatmap_has_axes_in_words() -> None:
    fig = charts.position_heatmap(_cells(), 4, 4)
    assert list(fig.layout.xaxis.ticktext) == ["left", "centre", "right"]
    assert list(fig.layout.yaxis.ticktext) == ["back", "middle", "front"]
    assert fig.layout.xaxis.title.text == "camera view"
    assert not fig.layout.images  # no still given: no picture


def test_position_heatmap_lies_over_the_camera_still() -> None:
    import cv2
    import numpy as np

    _ok, jpeg = cv2.imencode(".jpg", np.zeros((27, 48, 3), np.uint8))
    fig = charts.position_heatmap(_cells(), 4, 4, still=jpeg.tobytes())
    (image,) = fig.layout.images
    assert image.source.startswith("data:image/jpeg;base64,") and image.layer == "below"
    assert (image.sizex, image.sizey) == (4, 4)
    z = fig.data[0].z
    assert z[0][1] == 4 and z[0][0] is None  # empty cells see-through over the picture
    assert fig.data[0].opacity < 1


def test_store_still_is_audited_once(dashboard_env: Path, monkeypatch) -> None:
    import duckdb
    import storelens.dashboard.services as services

    monkeypatch.setattr(services, "tile_still", lambda camera_id, **_: b"\xff\xd8 not shown")
    manager = User("mia", Role.STORE_MANAGER, store="s1")
    # The still is in the Zones tab, drawn only while that tab is open (?store_tab=...).
    at = _page(manager, "store", {"store": "s1", "store_tab": "Zones and positions"})
    at.run()  # a rerun in the same session logs nothing new
    con = duckdb.connect(str(dashboard_env), read_only=True)
    try:
        rows = con.execute("SELECT user_name, camera_id FROM live_view_log").fetchall()
    finally:
        con.close()
    assert rows == [("mia", "s1-entrance")]
