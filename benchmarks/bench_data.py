"""Data-layer benchmarks (issue 4 targets). Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/bench_data.py                       # all sections
    .venv/bin/python benchmarks/bench_data.py --sections kpi --stores 50 --days 365
    .venv/bin/python benchmarks/bench_data.py --sections rw --rw-seconds 600

Sections:
- append: rows/s through Writer.append + flush from pipeline-sized batches
  (target >= 500k rows/s sustained).
- kpi: every KPI warm on ``--stores`` × ``--days`` of generated history (target <= 200 ms
  each). The generated history fills the hourly rollups (what every KPI reads) directly
  with SQL, plus an hour of raw detections for the live queries; table sizes are printed.
- rw: a real writer process appends pipeline-like batches and serves the read API while
  dashboard-like reader threads in this process query it through ``open_reader`` (which
  finds the published API): counts lock errors (target 0), other errors, latency and
  data freshness. A control shows what a plain read-only open gets meanwhile.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storelens.data import kpi  # noqa: E402
from storelens.data.catalog import upsert_camera, upsert_store  # noqa: E402
from storelens.data.errors import DatabaseLocked, DataError  # noqa: E402
from storelens.data.reader import LocalReader, open_reader  # noqa: E402
from storelens.data.schemas import BATCH_SCHEMAS  # noqa: E402
from storelens.data.writer import Writer, WriterConfig  # noqa: E402

TS = pa.timestamp("us", tz="UTC")


def detections_batch(rng: np.random.Generator, n: int, t0_us: int, camera: str) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array(t0_us + np.sort(rng.integers(0, 1_000_000, n)), pa.int64()).cast(TS),
            "camera_id": pa.array([camera]).take(pa.array(np.zeros(n, dtype=np.int64))),
            "track_id": pa.array(rng.integers(0, 50, n), pa.int64()),
            "class": pa.array(["person"]).take(pa.array(np.zeros(n, dtype=np.int64))),
            "x1": pa.array(rng.uniform(0, 600, n).astype(np.float32)),
            "y1": pa.array(rng.uniform(0, 400, n).astype(np.float32)),
            "x2": pa.array(rng.uniform(600, 640, n).astype(np.float32)),
            "y2": pa.array(rng.uniform(400, 480, n).astype(np.float32)),
            "conf": pa.array(rng.uniform(0.3, 1, n).astype(np.float32)),
        },
        schema=BATCH_SCHEMAS["detections"],
    )


def register_cameras(writer: Writer, cameras: int) -> None:
    def apply(con):
        upsert_store(con, "bench", "Bench", "North", "UTC", 0, 24, 500)
        for c in range(cameras):
            upsert_camera(con, f"cam-{c}", "bench", f"cam {c}", "entrance")

    writer.execute_admin(apply)


# ------------------------------------------------------------------------------ append


def bench_append(total_rows: int) -> None:
    print("\n== append: Writer.append + flush, detections (9 columns) ==")
    rng = np.random.default_rng(1)
    for batch_rows in (100, 1_000, 10_000):
        with tempfile.TemporaryDirectory() as tmp:
            writer = Writer(Path(tmp) / "append.duckdb", WriterConfig(rollup_interval_s=5))
            register_cameras(writer, 8)
            n_batches = max(1, total_rows // batch_rows)
            t0 = int(datetime.now(UTC).timestamp() * 1e6)
            batches = [
                detections_batch(rng, batch_rows, t0 + i * 1_000_000, f"cam-{i % 8}")
                for i in range(n_batches)
            ]
            start = time.perf_counter()
            for i, batch in enumerate(batches):
                writer.append("detections", batch, f"b{batch_rows}-{i}")
            writer.flush(timeout=600)
            elapsed = time.perf_counter() - start
            stats = writer.stats
            writer.close()
            rows = n_batches * batch_rows
            print(
                f"batch {batch_rows:>6} rows x {n_batches:>6} batches: {rows / elapsed:>12,.0f} rows/s"
                f"  ({elapsed:.2f} s, {stats.transactions} transactions, "
                f"{stats.batches_committed} batches in ledger)"
            )


# ------------------------------------------------------------------------------ kpi


def generate_history(path: Path, stores: int, days: int) -> dict[str, int]:
    """Fill the rollup tables (the KPI inputs) for ``stores`` × ``days`` with SQL."""
    from storelens.data.db import open_database

    con = open_database(path)
    tzs = ["Europe/London", "Europe/Berlin", "Europe/Madrid"]
    for s in range(stores):
        upsert_store(
            con,
            f"b{s:03d}",
            f"Bench {s}",
            ["North", "Central", "South"][s % 3],
            tzs[s % 3],
            8 + s % 3,
            20 + s % 2,
            300 + 20 * s,
        )
        upsert_camera(con, f"b{s:03d}-cam", f"b{s:03d}", "door", "entrance")
    end = date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    con.execute("SELECT setseed(0.42)")
    con.execute(
        """
        CREATE TEMP TABLE grid AS
        SELECT s.store_id, s.timezone,
               CAST($start AS TIMESTAMP) + to_days(CAST(d.range AS INTEGER))
                   + to_hours(CAST(h.range AS INTEGER)) AS local_hour,
               CAST(h.range AS INTEGER) AS hr, CAST(d.range AS INTEGER) AS d
        FROM stores s, range(CAST($days AS BIGINT)) d, range(24) h
        WHERE h.range >= s.open_hour AND h.range < s.close_hour
        """,
        {"start": start, "days": days},
    )
    con.execute(
        """
        CREATE TEMP TABLE g AS
        SELECT store_id, timezone(timezone, local_hour) AS hour, local_hour, hr,
               greatest(0, round((40 + 30 * sin(hr / 3.0) + 20 * (dayofweek(local_hour) IN (5, 6)::INT))
                                 * (0.7 + 0.6 * random())))::BIGINT AS v
        FROM grid
        """
    )
    con.execute(
        """
        INSERT INTO hourly_traffic
        SELECT store_id, hour, local_hour, v, v - (random() * 3)::BIGINT, v,
               (v * 0.6)::BIGINT, (v * 0.3)::BIGINT, (v * 0.2)::BIGINT, (v * 0.1)::BIGINT,
               (v * 0.8)::BIGINT, v * 0.8 * 600, (v * 0.25)::BIGINT, (v * 0.23)::BIGINT,
               v * 0.23 * 60, 1 + random() * 3, 1, (2 + random() * 5)::INT, (random() < 0.02)::INT
        FROM g
        """
    )
    con.execute(
        """
        INSERT INTO hourly_zone
        SELECT store_id, hour, local_hour, z.zone, v, (v * 0.6)::BIGINT, (v * 0.3)::BIGINT,
               (v * 0.2)::BIGINT, (v * 0.1)::BIGINT, (v * 0.5)::BIGINT, v * 0.5 * 300,
               CASE WHEN z.zone = 'checkout' THEN (v * 0.25)::BIGINT ELSE 0 END,
               CASE WHEN z.zone = 'checkout' THEN (v * 0.23)::BIGINT ELSE 0 END,
               CASE WHEN z.zone = 'checkout' THEN v * 0.23 * 60 ELSE 0 END,
               CASE WHEN z.zone = 'checkout' THEN 1 + random() * 3 ELSE 0 END,
               CASE WHEN z.zone = 'checkout' THEN 1 ELSE 0 END
        FROM g, (VALUES ('floor'), ('checkout'), ('fitting')) z(zone)
        """
    )
    con.execute(
        "INSERT INTO hourly_sales SELECT store_id, hour, local_hour, (v * 0.25)::BIGINT, "
        "v * 0.25 * 32 * (0.8 + 0.4 * random()) FROM g"
    )
    con.execute(
        "INSERT INTO hourly_staff SELECT store_id, hour, local_hour, 2 + (v / 25)::INT, "
        "(2 + (v / 25)::INT) * 21.5 FROM g"
    )
    # Daily rollups are derived by the writer's own rollup code, as in production.
    from storelens.data.rollup import run_rollup

    con.execute("INSERT INTO rollup_dirty SELECT DISTINCT store_id, hour, 'daily' FROM g")
    run_rollup(con)
    # Raw rows for the live queries: one hour of detections (10 fps, ~12 people) on one camera.
    now_us = int(time.time() * 1e6)
    n = 3600 * 10 * 12
    rng = np.random.default_rng(3)
    det = detections_batch(rng, n, now_us - 3_600_000_000, "b000-cam")
    det = det.set_column(
        0,
        "ts",
        pa.array(
            now_us - 3_600_000_000 + np.sort(rng.integers(0, 3_600_000_000, n)), pa.int64()
        ).cast(TS),
    )
    con.register("_det", det)
    con.execute("INSERT INTO detections SELECT * FROM _det")
    con.unregister("_det")
    con.execute(
        "INSERT INTO alerts (ts, store_id, camera_id, kind, detail) "
        "SELECT hour, store_id, store_id || '-cam', 'queue_wait', 'bench' FROM g WHERE random() < 0.02"
    )
    con.execute("CHECKPOINT")
    sizes = {
        t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
        for t in (
            "stores",
            "hourly_traffic",
            "hourly_zone",
            "hourly_sales",
            "hourly_staff",
            "daily_store",
            "daily_zone",
            "detections",
            "alerts",
        )
    }
    con.close()
    return sizes


def timed(fn: Callable[[], object], repeat: int = 5) -> tuple[float, float]:
    fn()  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), max(times)


def bench_kpi(stores: int, days: int) -> None:
    print(f"\n== kpi: {stores} stores x {days} days of generated history ==")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "kpi.duckdb"
        t = time.perf_counter()
        sizes = generate_history(path, stores, days)
        size_mb = path.stat().st_size / 1e6
        print(f"generated in {time.perf_counter() - t:.1f} s, file {size_mb:.0f} MB; rows: {sizes}")
        end = date.today() - timedelta(days=1)
        year = kpi.KpiFilter(start=end - timedelta(days=days - 1), end=end)
        one = "b000"
        everyone = kpi.Scope.everything()
        since = datetime.now(UTC) - timedelta(minutes=30)
        cases: list[tuple[str, Callable[[kpi.Reader], object]]] = [
            (
                "visitors 1 store, year, day",
                lambda r: kpi.visitors(r, year.with_(stores=(one,)), everyone),
            ),
            (
                "visitors all stores, year, week",
                lambda r: kpi.visitors(r, year.with_(granularity="week"), everyone),
            ),
            ("visitors all stores, year, day", lambda r: kpi.visitors(r, year, everyone)),
            (
                "occupancy 1 store, 90 days, hour",
                lambda r: kpi.occupancy(
                    r,
                    year.with_(start=end - timedelta(days=89), stores=(one,), granularity="hour"),
                    everyone,
                ),
            ),
            (
                "dwell by zone 1 store, year",
                lambda r: kpi.dwell(r, year.with_(stores=(one,)), everyone, by_zone=True),
            ),
            (
                "queue 1 store, year, day",
                lambda r: kpi.queue(r, year.with_(stores=(one,)), everyone),
            ),
            (
                "conversion all stores, year, week",
                lambda r: kpi.conversion(r, year.with_(granularity="week"), everyone),
            ),
            (
                "sales_per_visitor 1 store, year",
                lambda r: kpi.sales_per_visitor(r, year.with_(stores=(one,)), everyone),
            ),
            (
                "satisfaction 1 store, 90 d, zone x hour",
                lambda r: kpi.satisfaction(
                    r,
                    year.with_(start=end - timedelta(days=89), stores=(one,), granularity="hour"),
                    everyone,
                    by_zone=True,
                ),
            ),
            (
                "frustration_alerts all, year, week",
                lambda r: kpi.frustration_alerts(r, year.with_(granularity="week"), everyone),
            ),
            (
                "star all stores, year, week",
                lambda r: kpi.star(r, year.with_(granularity="week"), everyone),
            ),
            (
                "labour_cost all stores, year, week",
                lambda r: kpi.labour_cost(r, year.with_(granularity="week"), everyone),
            ),
            (
                "staffing 1 store, 1 week (forecast)",
                lambda r: kpi.staffing(
                    r,
                    year.with_(start=end - timedelta(days=6), stores=(one,), granularity="hour"),
                    everyone,
                ),
            ),
            (
                "staffing 1 store, 4 weeks (forecast)",
                lambda r: kpi.staffing(
                    r,
                    year.with_(start=end - timedelta(days=27), stores=(one,), granularity="hour"),
                    everyone,
                ),
            ),
            (
                "store_comparison all, 28 days",
                lambda r: kpi.store_comparison(
                    r, year.with_(start=end - timedelta(days=27)), everyone
                ),
            ),
            ("store_comparison all, year", lambda r: kpi.store_comparison(r, year, everyone)),
            ("headline 1 store, year", lambda r: kpi.headline(r, one, year.start, end)),
            (
                "people_per_minute 1 camera, 30 min",
                lambda r: kpi.people_per_minute(r, "b000-cam", since),
            ),
            ("latest_counts all cameras", lambda r: kpi.latest_counts(r)),
            (
                "alert_list 1 store, 7 days",
                lambda r: kpi.alert_list(r, everyone, [one], datetime.now(UTC) - timedelta(days=7)),
            ),
        ]
        from storelens.data.readapi import serve
        from storelens.data.reader import ApiReader

        # LocalReader (file opened read-only per call) first: no writer may hold the file.
        local = LocalReader(path)
        local_times = {name: timed(lambda fn=fn: fn(local)) for name, fn in cases}
        local.close()
        writer = Writer(path)
        server = serve(writer, port=0, publish=False)
        api = ApiReader(server.url, secret=server.secret)
        print(f"{'query':42} {'local ms':>9} {'(max)':>7} {'api ms':>8} {'(max)':>7}")
        worst = 0.0
        for name, fn in cases:
            lm, lx = local_times[name]
            am, ax = timed(lambda fn=fn: fn(api))
            worst = max(worst, lm, am)
            flag = "" if max(lm, am) <= 200 else "  OVER 200 ms"
            print(f"{name:42} {lm:9.1f} {lx:7.1f} {am:8.1f} {ax:7.1f}{flag}")
        print(f"worst median: {worst:.1f} ms (target <= 200 ms)")
        server.stop()
        writer.close()


# ------------------------------------------------------------------------------ rw

WRITER_CHILD = r"""
import sys, time, numpy as np, pyarrow as pa
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[2])
from benchmarks.bench_data import detections_batch, register_cameras
from storelens.data.readapi import serve
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.writer import Writer
writer = Writer(sys.argv[1])
register_cameras(writer, 4)
server = serve(writer, port=0, publish=True)
print("ready", server.url, flush=True)
rng = np.random.default_rng(5)
i = 0
while True:  # 4 cameras, one batch per camera per 250 ms (4x the pipeline's 1 s cadence)
    now = int(time.time() * 1e6)
    for c in range(4):
        writer.append("detections", detections_batch(rng, 250, now, f"cam-{c}"), f"rw-{i}-{c}")
        ev = pa.table({"ts": [datetime.now(UTC)] * 5, "camera_id": [f"cam-{c}"] * 5,
                       "track_id": list(range(i * 5, i * 5 + 5)), "kind": ["enter"] * 5,
                       "zone": [None] * 5, "value": [None] * 5}, schema=BATCH_SCHEMAS["events"])
        writer.append("events", ev, f"rw-ev-{i}-{c}")
    i += 1
    if i % 40 == 0:
        print("rows", writer.stats.rows_committed, flush=True)
    time.sleep(0.25)
"""


def bench_rw(seconds: float, readers: int) -> None:
    print(
        f"\n== rw: reads while a writer process writes, {seconds:.0f} s, {readers} reader threads =="
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rw.duckdb"
        child = subprocess.Popen(
            [sys.executable, "-c", WRITER_CHILD, str(path), str(ROOT)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert child.stdout is not None
        line = child.stdout.readline()
        if not line.startswith("ready"):
            print("writer child failed:", line, child.stderr.read() if child.stderr else "")
            return
        threading.Thread(target=lambda: [None for _ in child.stdout], daemon=True).start()
        lock_errors = 0
        other_errors: list[str] = []
        latencies: list[float] = []
        staleness: list[float] = []
        stop = time.monotonic() + seconds
        guard = threading.Lock()
        today = date.today()

        def reader_loop(k: int) -> None:
            nonlocal lock_errors
            reader = open_reader(path)
            flt = kpi.KpiFilter(
                start=today - timedelta(days=1), end=today, stores=("bench",), granularity="hour"
            )
            n = 0
            while time.monotonic() < stop:
                t = time.perf_counter()
                try:
                    if n % 3 == 0:
                        counts = kpi.latest_counts(reader)
                        last = counts["last_ts"].max()
                        if last is not None:
                            with guard:
                                staleness.append((datetime.now(UTC) - last).total_seconds())
                    elif n % 3 == 1:
                        kpi.people_per_minute(
                            reader, f"cam-{k % 4}", datetime.now(UTC) - timedelta(minutes=5)
                        )
                    else:
                        kpi.visitors(reader, flt, kpi.Scope.everything())
                    with guard:
                        latencies.append((time.perf_counter() - t) * 1000)
                except DatabaseLocked as exc:
                    with guard:
                        lock_errors += 1
                        other_errors.append(f"LOCK {exc}")
                except (DataError, OSError) as exc:
                    with guard:
                        if "lock" in str(exc).lower():
                            lock_errors += 1
                        other_errors.append(repr(exc))
                n += 1

        threads = [threading.Thread(target=reader_loop, args=(k,)) for k in range(readers)]
        for th in threads:
            th.start()
        # Control: what a plain read-only open of the same file gets while the writer runs.
        control_fail = control_total = 0
        import duckdb

        while time.monotonic() < stop:
            control_total += 1
            try:
                duckdb.connect(str(path), read_only=True).close()
            except duckdb.Error:
                control_fail += 1
            time.sleep(1.0)
        for th in threads:
            th.join()
        child.kill()
        child.wait()
        lat = sorted(latencies)
        print(
            f"reads: {len(lat)}  lock errors: {lock_errors}  other errors: {len(other_errors) - lock_errors}"
        )
        if other_errors:
            print("  first errors:", other_errors[:3])
        if lat:
            print(
                f"latency ms: p50 {lat[len(lat) // 2]:.1f}  p95 {lat[int(len(lat) * 0.95)]:.1f}  max {lat[-1]:.1f}"
            )
        if staleness:
            st = sorted(staleness)
            print(
                f"freshness (now - newest detection seen) s: p50 {st[len(st) // 2]:.2f}  max {st[-1]:.2f}"
            )
        print(
            f"control: plain read-only duckdb.connect on the same file failed {control_fail}/{control_total}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", default="append,kpi,rw")
    parser.add_argument("--append-rows", type=int, default=2_000_000)
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--rw-seconds", type=float, default=60.0)
    parser.add_argument("--readers", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    sections = set(args.sections.split(","))
    if "append" in sections:
        bench_append(args.append_rows)
    if "kpi" in sections:
        bench_kpi(args.stores, args.days)
    if "rw" in sections:
        bench_rw(args.rw_seconds, args.readers)


if __name__ == "__main__":
    main()
