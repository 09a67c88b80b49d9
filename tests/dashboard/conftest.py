"""A small dashboard database built through data's own writer and importers.

Three stores in two regions with different, known traffic so scoping is visible in the
numbers: s1 (north) 10 visitors an hour, s2 (north) 6, s3 (south) 3; 15 days, 09–17 h,
all in UTC so local hours equal UTC hours. Alerts today in s1 and s3. s1 schedules two
associates where one is enough (over-staffed).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from storelens.data.imports import import_content
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.sink import AlertRow, to_arrow
from storelens.data.writer import Writer

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "app.py")
DAYS = 15
HOURS = range(9, 18)
VISITORS_PER_HOUR = {"s1": 10, "s2": 6, "s3": 3}
REGIONS = {"s1": "north", "s2": "north", "s3": "south"}
TODAY = datetime.now(UTC).date()


def _table(name: str, columns: dict[str, list]) -> pa.Table:
    return pa.table(columns, schema=BATCH_SCHEMAS[name])


def build_dashboard_db(path: Path, today: date = TODAY) -> Path:
    events: dict[str, list] = {k: [] for k in BATCH_SCHEMAS["events"].names}
    tracks: dict[str, list] = {k: [] for k in BATCH_SCHEMAS["tracks"].names}
    queue: dict[str, list] = {k: [] for k in BATCH_SCHEMAS["queue_samples"].names}
    sales = ["ts,store_id,amount,register"]
    shifts = ["store_id,staff_role,start_ts,end_ts,hourly_cost,staff_id"]
    valences = ["satisfied", "satisfied", "neutral", "frustrated", None]
    track_id = 0
    for store, per_hour in VISITORS_PER_HOUR.items():
        for d in range(DAYS):
            day = today - timedelta(days=d)
            for hour in HOURS:
                start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                for i in range(per_hour):
                    track_id += 1
                    ts = start + timedelta(minutes=i * 5)
                    zone = "checkout" if i % 2 else "aisle"
                    for kind, zone_name, value, at in (
                        ("enter", None, None, ts),
                        ("zone_exit", zone, 30.0 + i, ts + timedelta(seconds=40)),
                        ("queue_join", "checkout", None, ts + timedelta(seconds=50)),
                        ("queue_leave", "checkout", 60.0 + 10 * i, ts + timedelta(seconds=60)),
                    ):
                        for key, val in zip(
                            events,
                            (at, f"{store}-entrance", track_id, kind, zone_name, value),
                            strict=True,
                        ):
                            events[key].append(val)
                    for key, val in zip(
                        tracks,
                        (
                            f"{store}-entrance",
                            track_id,
                            ts,
                            ts + timedelta(minutes=2),
                            json.dumps([zone]),
                            valences[i % len(valences)],
                            3,
                            None,  # no probabilities: a hard vote (migration 004)
                            None,
                            None,
                        ),
                        strict=True,
                    ):
                        tracks[key].append(val)
                    if i < per_hour // 2:
                        sales.append(f"{(ts + timedelta(minutes=3)).isoformat()},{store},25.0,1")
                for key, val in zip(
                    queue, (start, f"{store}-entrance", "checkout", 2), strict=True
                ):
                    queue[key].append(val)
            for staff in range(2 if store == "s1" else 1):  # s1 is over-staffed
                shifts.append(
                    f"{store},associate,{day}T09:00:00+00:00,{day}T18:00:00+00:00,20.0,a{staff}"
                )
    now = datetime.now(UTC)
    alerts = to_arrow(
        [
            AlertRow(
                (now - timedelta(minutes=5)).timestamp(),
                "s1-entrance",
                "queue_wait",
                "queue wait over 4 min at s1",
                zone="checkout",
                zone_kind="queue",
            ),
            AlertRow(
                (now - timedelta(minutes=2)).timestamp(),
                "s3-entrance",
                "frustrated_shopper",
                "frustrated shopper at s3 checkout",
            ),
        ],
        BATCH_SCHEMAS["alerts"],
    )
    detections = _table(
        "detections",
        {
            "ts": [now - timedelta(minutes=m) for m in range(3)],
            "camera_id": ["s1-entrance"] * 3,
            "track_id": [1, 2, 3],
            "class": ["person"] * 3,
            "x1": [10.0, 200.0, 400.0],
            "y1": [10.0, 50.0, 100.0],
            "x2": [60.0, 260.0, 460.0],
            "y2": [200.0, 240.0, 300.0],
            "conf": [0.9, 0.8, 0.7],
        },
    )

    def catalog(con) -> None:
        from storelens.data.catalog import upsert_camera, upsert_store

        for store, region in REGIONS.items():
            upsert_store(con, store, f"Store {store.upper()}", region, "UTC", 9, 18, 500.0)
            upsert_camera(
                con, f"{store}-entrance", store, f"{store} entrance", "entrance", None, [], []
            )

    with Writer(path) as writer:
        writer.execute_admin(catalog)
        writer.append("events", _table("events", events), "dash:events")
        writer.append("tracks", _table("tracks", tracks), "dash:tracks")
        writer.append("queue_samples", _table("queue_samples", queue), "dash:queue")
        writer.append("alerts", alerts, "dash:alerts")
        writer.append("detections", detections, "dash:detections")
        writer.flush()
        import_content(writer, "sales", "sales.csv", "\n".join(sales).encode())
        import_content(writer, "shifts", "shifts.csv", "\n".join(shifts).encode())
        writer.flush()
        writer.rollup_now()
    return path


@pytest.fixture(scope="session")
def dashboard_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dashboard_db(tmp_path_factory.mktemp("dash") / "dash.duckdb")


@pytest.fixture
def dashboard_env(
    dashboard_db_master: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """A private copy of the database; STORELENS_DB / STORELENS_HOME point at tmp paths."""
    db = tmp_path / "dash.duckdb"
    db.write_bytes(dashboard_db_master.read_bytes())
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("STORELENS_DB", str(db))
    monkeypatch.setenv("STORELENS_HOME", str(home))
    monkeypatch.delenv("STORELENS_DEMO", raising=False)
    monkeypatch.delenv("STORELENS_READ_API", raising=False)
    yield db


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    os.environ.setdefault("STORELENS_STREAM_SECRET", "test-stream-secret")
