"""Time from raised to acknowledged (issue 19 item 7): stored when staff acknowledge, and
Compare shows each store's median response time, scoped like every other column."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storelens.dashboard.auth import Role, User
from storelens.data.actions import ack_alert
from storelens.data.sink import BATCH_SCHEMAS, AlertRow, to_arrow
from storelens.data.writer import Writer
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def acknowledged(camera: str, raised: float, after_s: float | None) -> AlertRow:
    return AlertRow(
        raised,
        camera,
        "queue_wait",
        "Till · checkout: a shopper has waited 5:00 min",
        "checkout",
        "queue",
        "mia" if after_s is not None else None,
        raised + after_s if after_s is not None else None,
    )


def add_history(db: Path) -> None:
    noon = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = (noon - timedelta(days=1)).timestamp()  # Compare shows complete days
    rows = [
        # s1: 2, 4 and 10 minutes -> median 4.0; s2: 1 minute and one never acknowledged.
        acknowledged("s1-entrance", yesterday, 120),
        acknowledged("s1-entrance", yesterday + 600, 240),
        acknowledged("s1-entrance", yesterday + 1200, 600),
        acknowledged("s2-entrance", yesterday, 60),
        acknowledged("s2-entrance", yesterday + 60, None),
    ]
    with Writer(db) as writer:
        writer.append("alerts", to_arrow(rows, BATCH_SCHEMAS["alerts"]), "response-history")
        writer.flush()


def compare_board(user: User) -> dict[str, float | None]:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    at.run()
    at.switch_page("screens/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    board = at.dataframe[0].value
    values = board.set_index("store_id")["median_response_min"].to_dict()
    return {k: (None if v != v else v) for k, v in values.items()}  # NaN -> None


def test_compare_shows_each_stores_median_response_time(dashboard_env: Path) -> None:
    add_history(dashboard_env)
    board = compare_board(User("eva", Role.EXECUTIVE))
    assert board["s1"] == pytest.approx(4.0)
    assert board["s2"] == pytest.approx(1.0)  # the open one has no response time yet
    assert board["s3"] is None  # no alert in the period: no figure, not 0
    # A manager sees their own store's figure only.
    assert set(compare_board(User("mia", Role.STORE_MANAGER, store="s1"))) == {"s1"}


def test_acknowledging_stores_the_response_time(dashboard_env: Path) -> None:
    with Writer(dashboard_env) as writer:
        raised = time.time() - 150
        row = acknowledged("s1-entrance", raised, None)
        writer.append("alerts", to_arrow([row], BATCH_SCHEMAS["alerts"]), "to-ack")
        writer.flush()
        cur = writer.cursor()
        alert_id = cur.execute("SELECT max(alert_id) FROM alerts").fetchall()[0][0]
        assert writer.execute_admin(lambda con: ack_alert(con, alert_id, "mia"))
        stored = cur.execute(
            "SELECT response_s FROM alerts WHERE alert_id = ?", [alert_id]
        ).fetchall()[0][0]
        cur.close()
    assert 150 <= stored < 150 + 600  # raised 150 s before; the ack came after that
