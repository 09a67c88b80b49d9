"""A small database with known funnel, queue, staffing and camera-gap numbers (issue 22),
built through data's own writer and importers.

Store ``a`` (region north) and ``b`` (south), UTC, open 09–17 (8 hours), the last
``DAYS`` complete days. Every opening hour 10 shoppers enter ``a`` (4 ``b``), each makes
one 30 s zone visit, the first half join the checkout queue and leave it with a measured
wait. In ``a`` the hours 12 and 13 are *slow* (300 s waits, over the 120 s target) and
only 2 shoppers buy there; in the 6 calm hours (60 s waits) 5 buy. Every purchase is
€20. So per day in ``a``: 80 visitors, 80 zone visits, 40 queue joins, 34 transactions,
conversion 0.2 in slow hours and 0.5 in calm ones, and the sales lost to queues are
(0.5 − 0.2) × 20 visitors × €20 = €120 a day. ``b`` queues 60 s all day (2 of 4 buy).

Camera blackout: on the day ``GAP_DAY`` before today ``a``'s camera wrote nothing from
14:00 to 16:00 (2 opening hours), while its till still rang (sales are imports).
One associate is on shift in each store, 09–17 at €20 an hour.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
from storelens.data.imports import import_content
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.writer import Writer

DAYS = 14
OPEN, CLOSE = 9, 17
SLOW_HOURS = (12, 13)
GAP_DAY = 3  # days before today
GAP_HOURS = (14, 15)
PER_HOUR = {"a": 10, "b": 4}
REGIONS = {"a": "north", "b": "south"}
BASKET = 20.0


def buyers(store: str, hour: int) -> int:
    if store == "a":
        return 2 if hour in SLOW_HOURS else 5
    return 2


def wait_s(store: str, hour: int) -> float:
    return 300.0 if store == "a" and hour in SLOW_HOURS else 60.0


def build_insights_db(path: Path, today: date) -> Path:
    events: dict[str, list] = {k: [] for k in BATCH_SCHEMAS["events"].names}
    queue: dict[str, list] = {k: [] for k in BATCH_SCHEMAS["queue_samples"].names}
    sales = ["ts,store_id,amount,register"]
    shifts = ["store_id,staff_role,start_ts,end_ts,hourly_cost,staff_id"]
    track = 0
    for store, per_hour in PER_HOUR.items():
        camera = f"{store}-cam"
        for d in range(1, DAYS + 1):
            day = today - timedelta(days=d)
            for hour in range(OPEN, CLOSE):
                start = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
                blackout = store == "a" and d == GAP_DAY and hour in GAP_HOURS
                for i in range(buyers(store, hour)):
                    paid = start + timedelta(minutes=5 * i + 4)
                    sales.append(f"{paid.isoformat()},{store},{BASKET},1")
                if blackout:
                    continue
                for i in range(per_hour):
                    track += 1
                    ts = start + timedelta(minutes=5 * i)
                    rows = [("enter", None, None, ts), ("zone_exit", "floor", 30.0, ts)]
                    if i < per_hour // 2:
                        rows += [
                            ("queue_join", "checkout", None, ts + timedelta(seconds=40)),
                            (
                                "queue_leave",
                                "checkout",
                                wait_s(store, hour),
                                ts + timedelta(seconds=50),
                            ),
                        ]
                    for kind, zone, value, at in rows:
                        for key, val in zip(
                            events, (at, camera, track, kind, zone, value), strict=True
                        ):
                            events[key].append(val)
                for slot in range(12):  # a queue sample every 5 minutes while up
                    for key, val in zip(
                        queue,
                        (start + timedelta(minutes=5 * slot), camera, "checkout", 1),
                        strict=True,
                    ):
                        queue[key].append(val)
            shifts.append(f"{store},associate,{day}T09:00:00+00:00,{day}T17:00:00+00:00,20.0,s1")

    def catalog(con) -> None:
        from storelens.data.catalog import upsert_camera, upsert_store

        for store, region in REGIONS.items():
            upsert_store(con, store, f"Store {store.upper()}", region, "UTC", OPEN, CLOSE, 400.0)
            upsert_camera(con, f"{store}-cam", store, f"{store} entrance", "entrance", None, [], [])

    with Writer(path) as writer:
        writer.execute_admin(catalog)
        writer.append("events", pa.table(events, schema=BATCH_SCHEMAS["events"]), "ins:events")
        writer.append(
            "queue_samples", pa.table(queue, schema=BATCH_SCHEMAS["queue_samples"]), "ins:queue"
        )
        writer.flush()
        import_content(writer, "sales", "sales.csv", "\n".join(sales).encode())
        import_content(writer, "shifts", "shifts.csv", "\n".join(shifts).encode())
        writer.flush()
        writer.rollup_now()
    return path
