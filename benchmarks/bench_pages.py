"""First render time of every dashboard page, warm, on the 90-day demo history.

    .venv/bin/python benchmarks/bench_pages.py [--db PATH] [--runs 5]

Without --db it seeds the demo history into a temp dir first (`storelens demo seed`).
"Warm" = the server process has imported everything and rendered each page once; each
measured run is a *new* session's first render of that page (AppTest: the page script
with its data queries and figures, as Streamlit's server runs it; browser paint is not
included). Target (issue 5): ≤ 1.5 s per page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = ["executive", "live", "store", "compare", "staffing", "privacy", "setup"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a seeded database (default: seed one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also time click-to-rendered in headless Chromium (demo mode)",
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    os.environ["STORELENS_HOME"] = str(tmp / "home")
    (tmp / "home").mkdir()
    db = args.db
    if db is None:
        db = tmp / "demo.duckdb"
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "storelens.dashboard.cli", "demo", "seed", "--db", str(db)],
            check=True,
            cwd=REPO,
        )
        print(f"seeded demo history in {time.perf_counter() - started:.1f} s")
    os.environ["STORELENS_DB"] = str(db)
    os.environ.pop("STORELENS_DEMO", None)
    sys.path.insert(0, str(REPO))

    from storelens.dashboard.auth import Role, User
    from streamlit.testing.v1 import AppTest

    users = {
        "admin": User("ada", Role.ADMIN),
        "regional_lead": User("rex", Role.REGIONAL_LEAD, region="North"),
        "store_manager": User("mia", Role.STORE_MANAGER, store="demo"),
    }

    def render(user: User, page: str) -> float:
        at = AppTest.from_file(str(REPO / "dashboard" / "app.py"), default_timeout=120)
        at.session_state["storelens_user"] = user
        at.run()  # registers the pages (default page of the role)
        started = time.perf_counter()
        at.switch_page(f"screens/{page}.py").run()
        elapsed = time.perf_counter() - started
        if at.exception or at.error:  # a page that stopped early would look fast
            problem = (at.exception or at.error)[0].value
            raise RuntimeError(f"{page} as {user.role.value}: {problem}")
        return elapsed

    print(f"db: {db} ({db.stat().st_size / 1e6:.0f} MB); runs per page: {args.runs}")
    print(f"{'role':14} {'page':10} {'median ms':>10} {'max ms':>8}  target 1500 ms")
    worst = 0.0
    for role, user in users.items():
        for page in PAGES:
            if page == "setup" and role != "admin":
                continue
            render(user, page)  # warm: imports, first figure, OS file cache
            times = [render(user, page) for _ in range(args.runs)]
            median, top = statistics.median(times) * 1000, max(times) * 1000
            worst = max(worst, median)
            flag = "" if median <= 1500 else "  OVER"
            print(f"{role:14} {page:10} {median:10.0f} {top:8.0f}{flag}", flush=True)
    print(f"slowest page median: {worst:.0f} ms")
    if args.browser:
        browser_times(db, tmp, args.runs)
    return 0


BROWSER_PAGES = {
    "Summary": "Summary",
    "Live": "Live",
    "Store": "Store",
    "Compare stores": "Compare stores",
    "Staffing": "Staffing",
    "Privacy": "Privacy",
}


def browser_times(db: Path, tmp: Path, runs: int) -> None:
    """Click a page's link in the sidebar -> its title shown and every chart drawn, with
    the script finished (Streamlit's running indicator gone)."""
    import shutil

    from playwright.sync_api import sync_playwright
    from tests.dashboard.harness import CHROMIUM_ARGS, StreamlitServer

    env = {"STORELENS_DB": str(db), "STORELENS_HOME": str(tmp / "home"), "STORELENS_DEMO": "1"}
    server = StreamlitServer(env, log_path=tmp / "streamlit.log").start()
    done = """() => !document.querySelector('[data-testid="stStatusWidget"]')
        && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
           .every(c => c.querySelector('.main-svg'))"""
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(server.url)
            page.get_by_role("heading", name="Summary").first.wait_for()
            times: dict[str, list[float]] = {name: [] for name in BROWSER_PAGES}
            for round_no in range(runs + 1):  # round 0 warms the server
                for link, title in BROWSER_PAGES.items():
                    started = time.perf_counter()
                    page.locator('[data-testid="stSidebarNavLink"]', has_text=link).first.click()
                    page.get_by_role("heading", name=title, exact=True).first.wait_for()
                    page.wait_for_timeout(100)  # let the status widget appear if it will
                    page.wait_for_function(done)
                    if round_no:
                        times[link].append(time.perf_counter() - started)
            browser.close()
    finally:
        server.stop()
    print(
        f"\nbrowser (executive, demo mode), click -> rendered, {runs} runs (includes 100 ms wait):"
    )
    for link, values in times.items():
        print(
            f"  {link:15} median {statistics.median(values) * 1000:6.0f} ms  "
            f"max {max(values) * 1000:6.0f} ms"
        )


if __name__ == "__main__":
    sys.exit(main())
