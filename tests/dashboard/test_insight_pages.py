"""AppTest for issue 22's page parts on the golden dashboard database: the Drill-down page
at each step for every role (a forged store denied), the Summary's € figures and change,
the Compare funnel column and drill links, the Store page's funnel and data health."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.dashboard.test_pages import TODAY, USERS, errors, metric, open_app, problems

DRILL = "screens/drill.py"
DAY = (TODAY - timedelta(days=1)).isoformat()
PERIOD = {"from": (TODAY - timedelta(days=7)).isoformat(), "to": DAY}


@pytest.mark.parametrize("role", sorted(USERS))
@pytest.mark.parametrize(
    "step",
    [{}, {"day": DAY}, {"day": DAY, "hour": "12"}],
    ids=["store", "day", "hour"],
)
def test_drill_page_every_step_every_role(dashboard_env: Path, role: str, step: dict) -> None:
    store = {"manager": "s1", "regional": "s2"}.get(role, "s3")
    at = open_app(USERS[role], {"store": store, **PERIOD, **step}, DRILL)
    assert not problems(at), problems(at)
    assert not errors(at), errors(at)
    assert at.title[0].value == "Drill-down"
    if "hour" in step:
        labels = [m.label for m in at.metric]
        assert labels == [
            "Queue wait vs target",
            "Staff on shift vs recommended",
            "Conversion vs same hour last week",
            "Visitors vs same hour last week",
        ]
        assert any("Likely cause" in m.value for m in at.markdown)
    elif "day" in step:  # one button per opening hour (09-17 in the golden data)
        assert sum(":00 · " in b.label for b in at.button) == 9
    else:
        assert sum(" visitors · " in b.label for b in at.button) == 7  # the 7 days


@pytest.mark.parametrize(("role", "forged"), [("manager", "s2"), ("regional", "s3")])
def test_drill_page_denies_a_forged_store(dashboard_env: Path, role: str, forged: str) -> None:
    at = open_app(USERS[role], {"store": forged, **PERIOD, "day": DAY, "hour": "12"}, DRILL)
    assert "Access denied" in errors(at)
    assert not at.metric


def test_drill_buttons_write_the_path_into_the_url(dashboard_env: Path) -> None:
    at = open_app(USERS["executive"], {"store": "s1", **PERIOD}, DRILL)
    next(
        b for b in at.button if b.label.startswith(f"{TODAY - timedelta(days=1):%a %d %b}")
    ).click()
    at.run()
    assert at.query_params["day"] in (DAY, [DAY])
    next(b for b in at.button if b.label.startswith("12:00 · ")).click()
    at.run()
    assert at.query_params["hour"] in ("12", ["12"])
    assert at.metric[0].label == "Queue wait vs target"
    at.button(key="crumb_store").click()
    at.run()
    assert "day" not in at.query_params and "hour" not in at.query_params


def test_summary_leads_with_change_and_euro_figures(dashboard_env: Path) -> None:
    at = open_app(USERS["executive"], page="screens/executive.py")
    assert not problems(at), problems(at)
    labels = [m.label for m in at.metric]
    assert labels[:6] == [
        "Stores",
        "Visitors",
        "Sales",
        "Conversion",
        "Satisfaction index",
        "Avg queue wait",
    ]
    assert {"Sales lost to queues", "Staff cost over plan", "Cost to close staffing gaps"} <= set(
        labels
    )
    assert metric(at, "Staff cost over plan").startswith("€")
    visitors = next(m for m in at.metric if m.label == "Visitors")
    assert visitors.delta is not None  # change vs the previous 28 days
    assert any("Change vs the previous 28 days" in c.value for c in at.caption)
    assert at.get("download_button"), "the weekly report is offered"


def test_compare_has_funnel_column_and_drill_links(dashboard_env: Path) -> None:
    at = open_app(USERS["regional"], page="screens/compare.py")
    assert not problems(at), problems(at)
    board = next(d.value for d in at.dataframe if "funnel" in d.value.columns)
    # s1: 10 visitors an hour; each makes one zone visit and joins the queue; half buy.
    first = list(board[board["store_id"] == "s1"]["funnel"].iloc[0])
    assert first[0] == first[1] == first[2] and first[3] == first[0] // 2
    assert set(board["store_id"]) == {"s1", "s2"}  # the lead's region only
    links = [link.proto for link in at.get("page_link") if link.proto.page == "drill"]
    assert [(p.label, p.query_string.split("&")[0]) for p in links] == [
        ("Store S1", "store=s1"),  # the name for people, the id in the link
        ("Store S2", "store=s2"),
    ]


def test_store_page_funnel_and_health_tab(dashboard_env: Path) -> None:
    at = open_app(
        USERS["manager"],
        {"store": "s1", **PERIOD, "store_tab": "Funnel and data health"},
        "screens/store.py",
    )
    assert not problems(at), problems(at)
    assert "Funnel and data health" in [t.label for t in at.tabs]
    frames = [d.value for d in at.dataframe]
    days = next(f for f in frames if "traffic" in f.columns)
    assert days.shape[0] == 7 and set(days["traffic"]) == {90}  # s1: 10 an hour, 09-17 h
    cameras = next(f for f in frames if "uptime" in f.columns)
    assert list(cameras["camera_id"]) == ["s1-entrance"]
    assert any("Uptime: share of 5-minute slots" in c.value for c in at.caption)
    assert any("Store: 1 camera(s), uptime" in m.value for m in at.markdown)


def test_missing_hours_become_shaded_bands_not_zeros() -> None:
    from datetime import datetime

    import plotly.graph_objects as go
    from storelens.dashboard import insight_charts

    hours = [datetime(2026, 12, 4, 14), datetime(2026, 12, 4, 15), datetime(2026, 12, 5, 9)]
    fig = insight_charts.mark_missing(go.Figure(), hours)
    bands = [(s.x0, s.x1) for s in fig.layout.shapes]
    assert bands == [  # consecutive hours are one band, each centred on its bars
        (datetime(2026, 12, 4, 13, 30), datetime(2026, 12, 4, 15, 30)),
        (datetime(2026, 12, 5, 8, 30), datetime(2026, 12, 5, 9, 30)),
    ]
    assert fig.layout.annotations[0].text == "no camera data"
    daily = insight_charts.mark_missing(go.Figure(), hours, "day")
    assert [(s.x0, s.x1) for s in daily.layout.shapes] == [
        (datetime(2026, 12, 3, 12), datetime(2026, 12, 5, 12))
    ]
    assert daily.layout.annotations[0].text == "hours without camera data"
    assert insight_charts.mark_missing(go.Figure(), []).layout.shapes == ()
