"""Summary and Compare stores in chain mode (STORELENS_LAKE): every store comes from the
lake through the same KPI functions and scoping, with freshness and missing hours shown.
The store database the dashboard would otherwise read does not even exist here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from storelens.dashboard.auth import Role, User
from storelens.data.demo import seed_demo
from storelens.data.lake import open_lake, publish_db
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)


@pytest.fixture(scope="module")
def recent_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 stores, 8 days up to yesterday; s03 lost 10:00-12:59 local two days ago."""
    base = tmp_path_factory.mktemp("recent")
    db = base / "chain.duckdb"
    seed_demo(db, days=8, stores=5, seed=9, end=YESTERDAY)
    day = YESTERDAY - timedelta(days=1)
    con = duckdb.connect(str(db))
    try:
        con.execute(
            """DELETE FROM hourly_traffic WHERE store_id = 's03'
               AND local_hour >= ? AND local_hour < ?""",
            [
                datetime(day.year, day.month, day.day, 10),
                datetime(day.year, day.month, day.day, 13),
            ],
        )
    finally:
        con.close()
    publish_db(db, open_lake(base / "lake"))
    return base / "lake"


@pytest.fixture
def chain_env(recent_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORELENS_LAKE", str(recent_lake))
    monkeypatch.setenv("STORELENS_DB", str(tmp_path / "no-store-database-here.duckdb"))
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.delenv("STORELENS_READ_API", raising=False)
    return recent_lake


def open_page(user: User, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_compare_reads_every_store_from_the_lake(chain_env: Path):
    at = open_page(User("eve", Role.EXECUTIVE), "screens/compare.py")
    board = at.dataframe[1].value
    assert sorted(board["store_id"]) == ["demo", "s01", "s02", "s03", "s04"]
    assert (board["visitors"] > 0).all()
    fresh = at.dataframe[0].value
    assert sorted(fresh["store_id"]) == sorted(board["store_id"])
    # The state depends on the hour (tests/chain/test_freshness_hours.py); each has a zone.
    assert all(" up to " in label for label in fresh["freshness"])
    assert all(("GMT" in label) != ("CET" in label) for label in fresh["freshness"])
    missing = dict(zip(fresh["store_id"], fresh["missing_hours_in_period"], strict=True))
    assert missing == {"demo": 0, "s01": 0, "s02": 0, "s03": 3, "s04": 0}
    assert "with missing opening hours" in " ".join(c.value for c in at.caption)
    # Names and words for people: the store's name beside its id, outliers by KPI label.
    names = dict(zip(board["store_id"], board["name"], strict=True))
    assert dict(zip(fresh["store_id"], fresh["name"], strict=True)) == names
    flagged = [o for o in board["outliers"] if o]
    assert flagged, "the seeded chain has outliers; nothing here would be tested"
    assert not any("_" in o for o in flagged), flagged  # "Avg queue wait", not a column key


def test_compare_on_the_lake_keeps_role_scoping(chain_env: Path):
    at = open_page(User("rex", Role.REGIONAL_LEAD, region="North"), "screens/compare.py")
    assert sorted(at.dataframe[1].value["store_id"]) == ["s01", "s02", "s03"]
    assert sorted(at.dataframe[0].value["store_id"]) == ["s01", "s02", "s03"]
    manager = open_page(User("mia", Role.STORE_MANAGER, store="s04"), "screens/compare.py")
    assert list(manager.dataframe[1].value["store_id"]) == ["s04"]


def test_summary_reads_the_lake(chain_env: Path):
    at = open_page(User("eve", Role.EXECUTIVE), "screens/executive.py")
    assert at.metric[0].value == "5"  # stores
    assert at.title[0].value == "Summary"
    assert at.subheader[-1].value == "Data freshness (chain lake)"


def test_compare_on_the_lake_shows_the_median_response_time(chain_env: Path):
    # Issue 19 item 7: the lake publishes response seconds with its alert counts, so chain
    # mode's Compare has the column the store's own database gives (every demo store's
    # staff acknowledge their queue alerts).
    at = open_page(User("eve", Role.EXECUTIVE), "screens/compare.py")
    board = at.dataframe[1].value
    assert board["median_response_min"].notna().all(), board["median_response_min"]
    assert (board["median_response_min"] > 0).all()
    assert "alert counts only" not in " ".join(c.value for c in at.caption)


@pytest.mark.parametrize("page", ["executive", "compare", "drill"])
def test_chain_pages_show_missing_as_a_dash(chain_env: Path, page: str):
    # Issue 19 item 10 in chain mode: the freshness table (camera uptime is missing where
    # the lake has no camera health) and every other table draw "—", never "None".
    from tests.dashboard.test_missing_as_dash import nulls_shown_as_none

    at = open_page(User("eve", Role.EXECUTIVE), f"screens/{page}.py")
    assert nulls_shown_as_none(at) == [], page
