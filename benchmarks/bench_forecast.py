"""Traffic forecast backtest (issue 22): WAPE per store, forecast vs "same hour last week".

    .venv/bin/python benchmarks/bench_forecast.py                  # seeds a fresh demo history
    .venv/bin/python benchmarks/bench_forecast.py --db var/storelens.duckdb
    .venv/bin/python benchmarks/bench_forecast.py --markdown       # the README's table

Rolling origin over the last 8 weeks of each store's history (one origin a week, each
forecasting the next 7 days; data/forecast.py). Without ``--db`` it seeds the demo history
(`storelens demo seed`: 12 stores × 90 days ending ``--end``) into a temporary file, so
the table is the same on every machine. Prints numbers; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storelens.data.demo import seed_demo  # noqa: E402
from storelens.data.forecast import BACKTEST_WEEKS, backtest, load_history  # noqa: E402
from storelens.data.kpi import Scope  # noqa: E402
from storelens.data.reader import LocalReader  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="database to backtest (default: a fresh demo)")
    parser.add_argument(
        "--end",
        type=date.fromisoformat,
        default=date(2026, 12, 6),
        help="last day of the seeded demo history (default 2026-12-06)",
    )
    parser.add_argument("--weeks", type=int, default=BACKTEST_WEEKS, help="rolling origins")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None:
            db = Path(tmp) / "demo.duckdb"
            seed_demo(db, days=90, stores=12, seed=7, end=args.end)
        today = args.end + timedelta(days=1) if args.db is None else None
        reader = LocalReader(db)
        stores = reader.query("stores", {})["store_id"].to_list()
        rows = []
        started = time.perf_counter()
        for store in sorted(stores):
            history = load_history(reader, store, Scope.everything(), today=today)
            rows.append(backtest(history, args.weeks))
        seconds = time.perf_counter() - started

    wins = sum(r.wape_forecast < r.wape_naive for r in rows)
    if args.markdown:
        print("| store | WAPE forecast | WAPE naive (same hour last week) | 80 % interval held |")
        print("| --- | ---: | ---: | ---: |")
        for r in rows:
            print(
                f"| {r.store_id} | {r.wape_forecast:.1%} | {r.wape_naive:.1%} | {r.coverage:.0%} |"
            )
    else:
        print(
            f"{'store':6} {'wape_forecast':>14} {'wape_naive':>11} {'covered80':>10} {'hours':>6}"
        )
        for r in rows:
            print(
                f"{r.store_id:6} {r.wape_forecast:14.3f} {r.wape_naive:11.3f} "
                f"{r.coverage:10.2f} {r.hours:6d}"
            )
    total_f = sum(r.wape_forecast * r.hours for r in rows) / sum(r.hours for r in rows)
    total_n = sum(r.wape_naive * r.hours for r in rows) / sum(r.hours for r in rows)
    print(
        f"\nforecast beats naive on {wins} of {len(rows)} stores; mean WAPE {total_f:.1%} vs "
        f"{total_n:.1%}; {args.weeks} weekly origins; backtests took {seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
