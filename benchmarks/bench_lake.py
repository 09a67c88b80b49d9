"""Chain mode benchmark: stores publishing to the lake, HQ reading it, the Spark job.

Prints numbers for issue 11's targets (never asserts on time):

- ``publish``: one real store-year (demo generator) published to a fresh lake (lake size per
  store-year), then the store's CPU for publishing one changed store-hour (target <= 200 ms)
  and the wall time to drain the backlog of a 24 h lake outage (target <= 1 min); with
  ``--s3`` the same against SeaweedFS (the store's own prefix-scoped key).
- ``hq``: 50 / 500 / 5,000 simulated stores x 1 year (the real store-year's files copied
  under other store ids and regions), the Compare and Summary pages' KPI queries through
  :class:`~data.lake_reader.LakeReader`: cold, then warm (target <= 1 s warm at 500).
- ``spark``: the daily all-stores KPI job (``jobs/daily_kpis.py``) on the 500-store lake in
  local[2], next to DuckDB's time for the same table.

    .venv/bin/python benchmarks/bench_lake.py [--sections publish,hq,spark] [--stores 50,500,5000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb
from storelens.data import kpi
from storelens.data.demo import seed_demo
from storelens.data.errors import InvalidParams
from storelens.data.lake import (
    DAILY_TABLES,
    Lake,
    daily_kpis_duckdb,
    open_lake,
    publish,
    publish_db,
)
from storelens.data.lake_reader import LakeReader

END = date(2026, 3, 1)
STORE = "demo"


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def seed_store_year(work: Path) -> Path:
    db = work / "store.duckdb"
    if not db.exists():
        started = time.perf_counter()
        seed_demo(db, days=365, stores=1, seed=3, end=END)
        print(f"seeded 1 store x 365 days in {time.perf_counter() - started:.1f} s")
    return db


def _touch_hours(con: duckdb.DuckDBPyConnection, first: int, hours: int) -> None:
    """Simulate the rollup of ``hours`` new/changed store-hours ending ``first`` hours before
    the end: every hourly table's rows of those hours and their days' daily rows change."""
    newest = con.execute(
        "SELECT max(local_hour) FROM hourly_traffic WHERE store_id = ?", [STORE]
    ).fetchall()[0][0]
    for h in range(hours):
        at = newest - timedelta(hours=first + h)
        for table, column in (
            ("hourly_traffic", "visitors"),
            ("hourly_zone", "tracks_total"),
            ("hourly_sales", "transactions"),
            ("hourly_staff", "staff_hours"),
        ):
            con.execute(
                f"UPDATE {table} SET {column} = {column} + 1 WHERE store_id = ? AND local_hour = ?",
                [STORE, at],
            )
        for table, column in (("daily_store", "visitors"), ("daily_zone", "tracks_total")):
            con.execute(
                f"UPDATE {table} SET {column} = {column} + 1 WHERE store_id = ? AND day = ?",
                [STORE, at.date()],
            )


def bench_publish(work: Path, s3: bool, repeats: int) -> dict:
    db = seed_store_year(work)
    results: dict = {}
    targets: list[tuple[str, Lake, object]] = [("local", open_lake(work / "lake-local"), None)]
    if s3:
        from storelens.data.objectstore import SeaweedS3

        shutil.rmtree(work / "seaweed", ignore_errors=True)  # a fresh, empty bucket
        server = SeaweedS3(work / "seaweed", stores={STORE: "Central"}).start()
        targets.append(("seaweedfs", server.lake(STORE), server))
    try:
        for name, lake, _ in targets:
            if name == "local":
                shutil.rmtree(work / "lake-local", ignore_errors=True)
            copy = work / f"store-{name}.duckdb"
            shutil.copy(db, copy)
            con = duckdb.connect(str(copy))
            con.execute("SET TimeZone = 'UTC'")
            try:
                t0, c0 = time.perf_counter(), time.process_time()
                full = publish(con, lake, [STORE])
                row = {
                    "full_year_objects": full.written,
                    "full_year_s": round(time.perf_counter() - t0, 2),
                    "full_year_cpu_s": round(time.process_time() - c0, 2),
                }
                if name == "local":
                    row["lake_mb_per_store_year"] = round(_size(work / "lake-local") / 1e6, 2)
                cpu, wall = [], []
                for i in range(repeats):
                    _touch_hours(con, 2 * i, 1)
                    t0, c0 = time.perf_counter(), time.process_time()
                    one = publish(con, lake, [STORE])
                    wall.append(time.perf_counter() - t0)
                    cpu.append(time.process_time() - c0)
                    assert one.written >= 1
                row["one_store_hour_cpu_ms_median"] = round(1000 * statistics.median(cpu), 1)
                row["one_store_hour_cpu_ms_max"] = round(1000 * max(cpu), 1)
                row["one_store_hour_wall_ms_median"] = round(1000 * statistics.median(wall), 1)
                # 24 h outage: 24 store-hours changed while the lake was away, then one round.
                _touch_hours(con, 30, 24)
                t0 = time.perf_counter()
                backlog = publish(con, lake, [STORE])
                row["outage_24h_objects"] = backlog.written
                row["outage_24h_drain_s"] = round(time.perf_counter() - t0, 2)
                t0 = time.perf_counter()
                again = publish(con, lake, [STORE])
                row["nothing_new_s"] = round(time.perf_counter() - t0, 3)
                assert again.written == 0
            finally:
                con.close()
            results[name] = row
            print(f"publish [{name}]: {json.dumps(row)}", flush=True)
    finally:
        for _, _, server in targets:
            if server is not None:
                server.stop()  # type: ignore[attr-defined]
    return results


def build_chain(work: Path, n: int) -> Path:
    """``n`` simulated stores: the real store-year's daily objects (what Compare and Summary
    read) and manifest copied under other store ids, regions round-robin."""
    source = work / "lake-local"
    if not (source / "_manifests").exists():
        publish_db(seed_store_year(work), open_lake(source))
    root = work / f"chain-{n}"
    if (root / "_manifests").exists():
        return root
    manifest = json.loads((source / f"_manifests/store_id={STORE}/manifest.json").read_text())
    regions = ["North", "Central", "South", "East", "West"]
    files = {t: sorted((source / f"table={t}").rglob("*.parquet")) for t in DAILY_TABLES}
    for i in range(n):
        sid, region = f"st{i:05d}", regions[i % len(regions)]
        for table, paths in files.items():
            for path in paths:
                dest = root / f"table={table}/region={region}/store_id={sid}/{path.parent.name}"
                dest.mkdir(parents=True, exist_ok=True)
                os.link(path, dest / path.name)  # same bytes, no extra disk
        m = dict(manifest, store=dict(manifest["store"], store_id=sid, region=region, name=sid))
        out = root / f"_manifests/store_id={sid}"
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").write_text(json.dumps(m))
    return root


EVERYONE = kpi.Scope.everything()


def compare_page(reader: LakeReader, period: kpi.KpiFilter) -> None:
    """The Compare page's KPI calls: leaderboard, store picker, daily trend of one KPI."""
    table = kpi.store_comparison(reader, period, EVERYONE)
    reader.query("stores", {})
    kpi.visitors(reader, period.with_(stores=tuple(table["store_id"].to_list())), EVERYONE)


MAX_STORES_PER_QUERY = 1000


def summary_page(reader: LakeReader, period: kpi.KpiFilter) -> None:
    """The Summary page's KPI call (28 days, every store in scope)."""
    kpi.store_comparison(reader, period, EVERYONE)


def bench_hq(work: Path, sizes: list[int], repeats: int) -> dict:
    results = {}
    end = END
    start = end - timedelta(days=27)
    for n in sizes:
        t0 = time.perf_counter()
        root = build_chain(work, n)
        built = time.perf_counter() - t0
        reader = LakeReader(root, refresh_s=3600)
        period = kpi.KpiFilter(start, end, (), "day")

        if n > MAX_STORES_PER_QUERY:
            # The named queries take at most 1,000 stores per call (data/queries.py
            # StoreRange): an all-stores page is refused there, a region's is not.
            try:
                compare_page(reader, period)
            except InvalidParams as exc:
                print(f"hq: {n} stores in one query refused: {str(exc)[:90]}...", flush=True)
            region = tuple(f"st{i:05d}" for i in range(0, n, 5))[:MAX_STORES_PER_QUERY]
            period = period.with_(stores=region)
        t0 = time.perf_counter()
        compare_page(reader, period)
        cold = time.perf_counter() - t0
        warm_compare, warm_summary = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            compare_page(reader, period)
            warm_compare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            summary_page(reader, period)
            warm_summary.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reader.refresh(force=True)  # what a 15 s manifest refresh costs at this size
        refresh = time.perf_counter() - t0
        lead_scope = kpi.Scope.of(*[f"st{i:05d}" for i in range(0, n, 5)])  # one region
        t0 = time.perf_counter()
        kpi.store_comparison(reader, period, lead_scope)
        regional = time.perf_counter() - t0
        row = {
            "stores": n,
            "stores_per_query": len(period.stores) or n,
            "build_s": round(built, 1),
            "cold_compare_s": round(cold, 2),
            "warm_compare_s_median": round(statistics.median(warm_compare), 3),
            "warm_summary_s_median": round(statistics.median(warm_summary), 3),
            "warm_regional_lead_compare_s": round(regional, 3),
            "manifest_refresh_s": round(refresh, 2),
            "objects_loaded": reader.loads,
        }
        reader.close()
        results[n] = row
        print(f"hq: {json.dumps(row)}", flush=True)
    return results


def bench_spark(work: Path, n: int) -> dict:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from storelens.jobs.daily_kpis import daily_kpis, spark_session

    root = build_chain(work, n)
    t0 = time.perf_counter()
    want = daily_kpis_duckdb(open_lake(root))
    duck = time.perf_counter() - t0
    t0 = time.perf_counter()
    spark = spark_session("local[2]")
    started = time.perf_counter() - t0
    try:
        t0 = time.perf_counter()
        out = work / f"daily-kpis-{n}"
        daily_kpis(spark, root).write.mode("overwrite").parquet(str(out))
        job = time.perf_counter() - t0
        rows = spark.read.parquet(str(out)).count()
    finally:
        spark.stop()
    row = {
        "stores": n,
        "rows": rows,
        "duckdb_rows": want.num_rows,
        "spark_session_start_s": round(started, 1),
        "spark_job_s": round(job, 1),
        "duckdb_same_table_s": round(duck, 2),
    }
    print(f"spark: {json.dumps(row)}", flush=True)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sections", default="publish,hq,spark")
    parser.add_argument("--stores", default="50,500,5000", help="HQ sizes (simulated stores)")
    parser.add_argument("--spark-stores", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--s3", action="store_true", help="also publish to SeaweedFS")
    parser.add_argument("--work", type=Path, default=None, help="work folder (kept between runs)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-lake-"))
    work.mkdir(parents=True, exist_ok=True)
    sections = set(args.sections.split(","))
    print(f"work folder: {work}")
    if "publish" in sections:
        bench_publish(work, args.s3, args.repeats)
    if "hq" in sections:
        bench_hq(work, [int(s) for s in args.stores.split(",")], args.repeats)
    if "spark" in sections:
        bench_spark(work, args.spark_stores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
