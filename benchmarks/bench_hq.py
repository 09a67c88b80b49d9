"""HQ at chain scale: Compare stores over 5,000 stores from the lake (issue 21).

    .venv/bin/python benchmarks/bench_hq.py [--stores 5000] [--repeats 5] [--work DIR]
        [--page] [--spark]

Builds (in a temp folder, or --work, kept between runs) a lake of ``--stores`` simulated
stores x 1 year: one real store-year from the demo generator, its daily objects and
manifest copied (hard links) under other store ids, regions round-robin
(``benchmarks/bench_lake.build_chain``). Then, through :class:`~data.lake_reader.LakeReader`,
the Compare page's data calls (the leaderboard over the last 28 complete days and the trend
of the top stores), median of ``--repeats`` runs, s:

- ``cold``: a fresh reader (manifests listed, every store's daily objects read);
- ``warm``: the same reader again (what every later visitor of the server gets);
- ``regional lead`` / ``store manager``: the same, scoped to one region / one store;
- ``manifest refresh``: re-reading every manifest (the reader does it at most every 15 s).

``--page`` also times the whole Compare page script (AppTest, chain mode, executive, warm),
and ``--spark`` runs the daily all-stores KPI job (``jobs/daily_kpis.py``) over the lake on
``local[2]`` and prints its time per store-year (minutes at 5,000 stores).
Prints numbers only; never asserts on time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_lake import END, build_chain  # noqa: E402
from storelens.dashboard.compare_top import TOP_N, top_and_bottom  # noqa: E402
from storelens.data import kpi  # noqa: E402
from storelens.data.lake_reader import LakeReader  # noqa: E402


def compare_calls(reader: LakeReader, period: kpi.KpiFilter, scope: kpi.Scope) -> int:
    """The Compare page's data: the leaderboard of every store in scope, then the daily
    trend of the stores its chart shows (top and bottom by visitors). Returns stores."""
    table = kpi.store_comparison(reader, period, scope)
    shown = top_and_bottom(table, "visitors", TOP_N)
    if shown:
        kpi.visitors(reader, period.with_(stores=tuple(shown)), scope)
    return table.height


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench(root: Path, n: int, repeats: int) -> dict:
    start = END - timedelta(days=27)
    period = kpi.KpiFilter(start, END, (), "day")
    everyone = kpi.Scope.everything()
    region = kpi.Scope.of(*[f"st{i:05d}" for i in range(0, n, 5)])  # build_chain: 5 regions
    manager = kpi.Scope.of("st00007")
    reader = LakeReader(root, refresh_s=3600)
    try:
        t0 = time.perf_counter()
        stores = compare_calls(reader, period, everyone)
        cold = time.perf_counter() - t0
        warm, _ = timed(lambda: compare_calls(reader, period, everyone), repeats)
        lead, lead_n = timed(lambda: compare_calls(reader, period, region), repeats)
        mine, mine_n = timed(lambda: compare_calls(reader, period, manager), repeats)
        refresh, _ = timed(lambda: reader.refresh(force=True), 2)
        return {
            "stores": n,
            "stores_compared": stores,
            "cold_compare_s": round(cold, 2),
            "warm_compare_s_median": round(warm, 3),
            "regional_lead_stores": lead_n,
            "warm_regional_lead_s": round(lead, 3),
            "store_manager_stores": mine_n,
            "warm_store_manager_s": round(mine, 3),
            "manifest_refresh_s": round(refresh, 2),
            "objects_loaded": reader.loads,
        }
    finally:
        reader.close()


def bench_page(root: Path, repeats: int) -> float:
    """The whole Compare page script (queries, table, top-N chart, trend), warm."""
    from storelens.dashboard.auth import Role, User
    from streamlit.testing.v1 import AppTest

    os.environ["STORELENS_LAKE"] = str(root)
    os.environ["STORELENS_HOME"] = tempfile.mkdtemp(prefix="bench-hq-home-")
    os.environ["STORELENS_DB"] = str(Path(os.environ["STORELENS_HOME"]) / "none.duckdb")
    user = User("eve", Role.EXECUTIVE)

    def page() -> float:
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=600)
        at.session_state["storelens_user"] = user
        at.query_params["from"], at.query_params["to"] = str(END - timedelta(days=27)), str(END)
        at.run()
        t0 = time.perf_counter()
        at.switch_page("screens/compare.py").run()
        took = time.perf_counter() - t0
        if at.exception or at.error:
            raise RuntimeError((at.exception or at.error)[0].value)
        return took

    page()  # cold: the server's first visitor
    return statistics.median(page() for _ in range(repeats))


def bench_spark(root: Path, n: int, work: Path) -> dict:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from storelens.jobs.daily_kpis import daily_kpis, spark_session

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
    return {
        "stores": n,
        "store_years": n,
        "rows": rows,
        "spark_session_start_s": round(started, 1),
        "spark_job_s": round(job, 1),
        "spark_ms_per_store_year": round(1000 * job / n, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="work folder (kept)")
    parser.add_argument("--page", action="store_true", help="also time the page script")
    parser.add_argument("--spark", action="store_true", help="also run the Spark job")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-hq-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"command: {' '.join(sys.argv)}")
    print(f"work folder: {work}; cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    t0 = time.perf_counter()
    root = build_chain(work, args.stores)
    print(f"lake of {args.stores} stores x 1 year ready in {time.perf_counter() - t0:.1f} s")
    print(f"hq: {json.dumps(bench(root, args.stores, args.repeats))}", flush=True)
    if args.page:
        took = bench_page(root, args.repeats)
        print(f"compare page (AppTest, executive, warm median): {took:.3f} s", flush=True)
    if args.spark:
        print(f"spark: {json.dumps(bench_spark(root, args.stores, work))}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
