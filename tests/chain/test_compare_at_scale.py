"""Compare stores over more than 1,000 stores from the lake (issue 21: HQ at 5,000 stores;
queries were refused above 1,000). A generated lake of 1,200 stores: every store reaches
the leaderboard, the charts draw the leaders and laggards only, and the roles still scope
every row. (Speed is measured by benchmarks/bench_hq.py, never here.)"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storelens.dashboard.auth import Role, User
from storelens.data import storetime
from storelens.data.demo import seed_demo
from storelens.data.lake import DAILY_TABLES, open_lake, publish_db
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
STORES = 1200
REGIONS = ("North", "Central", "South", "East", "West")


@pytest.fixture(scope="module")
def big_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real store (8 days up to yesterday) published, then its daily objects and
    manifest linked under 1,200 store ids, regions round-robin (what Compare reads)."""
    base = tmp_path_factory.mktemp("big")
    seed_demo(base / "one.duckdb", days=8, stores=1, seed=5, end=YESTERDAY)
    source = base / "one-lake"
    publish_db(base / "one.duckdb", open_lake(source))
    (manifest_path,) = (source / "_manifests").glob("store_id=*/manifest.json")
    manifest = json.loads(manifest_path.read_text())
    files = {t: sorted((source / f"table={t}").rglob("*.parquet")) for t in DAILY_TABLES}
    root = base / "lake"
    for i in range(STORES):
        sid, region = f"st{i:05d}", REGIONS[i % len(REGIONS)]
        for table, paths in files.items():
            for path in paths:
                dest = root / f"table={table}/region={region}/store_id={sid}/{path.parent.name}"
                dest.mkdir(parents=True, exist_ok=True)
                os.link(path, dest / path.name)
        store = dict(manifest["store"], store_id=sid, region=region, name=f"Store {i}")
        out = root / f"_manifests/store_id={sid}"
        out.mkdir(parents=True)
        (out / "manifest.json").write_text(json.dumps(dict(manifest, store=store)))
    return root


@pytest.fixture
def chain_env(big_lake: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STORELENS_LAKE", str(big_lake))
    monkeypatch.setenv("STORELENS_DB", str(tmp_path / "no-store-database-here.duckdb"))
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.delenv("STORELENS_READ_API", raising=False)
    return big_lake


def compare(user: User, tab: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["storelens_user"] = user
    if tab:
        at.query_params["compare_tab"] = tab
    at.run()
    at.switch_page("screens/compare.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def leaderboard(at: AppTest) -> list[str]:
    return sorted(next(d.value for d in at.dataframe if "outliers" in d.value.columns)["store_id"])


def bars(at: AppTest) -> list[str]:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return [x for trace in spec["data"] for x in trace["x"]]


def test_compare_over_more_than_1000_stores_from_the_lake(chain_env: Path):
    at = compare(User("eve", Role.EXECUTIVE))
    board = leaderboard(at)
    assert board == [f"st{i:05d}" for i in range(STORES)]  # every store, none refused
    # The bar chart draws the 10 highest and 10 lowest, and says so; the table has them all.
    assert len(bars(at)) == 20
    assert any("10 lowest of 1,200 stores" in c.value for c in at.caption)
    # The trend (its own tab): a panel per store for the 6 highest and 6 lowest, not 1,200.
    at = compare(User("eve", Role.EXECUTIVE), tab="Trend by store")
    (trend,) = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    panels = [a["text"] for a in trend["layout"].get("annotations", [])]
    assert len(panels) == 12, panels


def test_summary_over_more_than_1000_stores_from_the_lake(chain_env: Path):
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["storelens_user"] = User("eve", Role.EXECUTIVE)
    at.run()
    at.switch_page("screens/executive.py").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert at.metric[0].value == "1200"  # stores
    assert len(bars(at)) == 20  # the 10 highest and 10 lowest scores
    assert any("10 lowest of 1,200 stores" in c.value for c in at.caption)


def test_compare_over_more_than_1000_stores_keeps_role_scoping(chain_env: Path):
    north = [f"st{i:05d}" for i in range(0, STORES, len(REGIONS))]
    at = compare(User("rex", Role.REGIONAL_LEAD, region="North"))
    assert leaderboard(at) == north  # 240 stores, none from another region
    fresh = next(d.value for d in at.dataframe if "freshness" in d.value.columns)
    assert sorted(fresh["store_id"]) == north
    assert set(bars(at)) <= {f"Store {int(s[2:])}" for s in north} | set(north)
    manager = compare(User("mia", Role.STORE_MANAGER, store="st00007"))
    assert leaderboard(manager) == ["st00007"]


def _walked(after: datetime, upto: datetime, open_hour: int, close_hour: int) -> int:
    """The hour-by-hour count opening_hours_between replaced (the reference)."""
    day = storetime.opening_day(upto, open_hour, close_hour)
    count, hour = 0, after.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while hour <= upto and count < 24 * 366:
        count += day.open_hour <= hour.hour < day.close_hour
        hour += timedelta(hours=1)
    return count


@pytest.mark.parametrize(("open_hour", "close_hour"), [(9, 21), (0, 24), (8, 8), (6, 7)])
@pytest.mark.parametrize(
    ("after", "upto"),
    [
        ("2026-03-01T13:00", "2026-03-01T12:30"),  # nothing after
        ("2026-03-01T13:00", "2026-03-01T13:59"),  # the same hour: none ended after it
        ("2026-03-01T08:10", "2026-03-01T22:00"),
        ("2026-03-01T20:45", "2026-03-02T09:00"),
        ("2026-03-01T23:00", "2026-12-07T05:40"),  # a store silent for nine months
        ("2024-01-01T00:00", "2026-12-07T16:00"),  # past the one-year cap
    ],
)
def test_opening_hours_are_counted_as_the_hour_walk_did(
    after: str, upto: str, open_hour: int, close_hour: int
):
    """Freshness of 5,000 stores took 30 s while the count walked hour by hour; the
    arithmetic count must give the walk's answers, cap included."""
    a, u = datetime.fromisoformat(after), datetime.fromisoformat(upto)
    got = storetime.opening_hours_between(a, u, open_hour, close_hour)
    assert got == _walked(a, u, open_hour, close_hour)
