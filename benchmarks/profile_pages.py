"""Where a page's click-to-rendered time goes, in a real server and headless Chromium.

    .venv/bin/python benchmarks/profile_pages.py [--db PATH] [--runs 3] [--pages Store,Compare stores]
        [--lake PATH (chain mode)] [--shots DIR] [--top] [--timeline]

For each page (the same sidebar click as ``bench_pages.py --only-browser``), median of
--runs warm clicks, in ms:

- ``first msg``: click -> the first websocket message of the new script run arrives (the
  rerun request reaching the server, the script starting);
- ``server``: first -> last websocket message of the run (the page script running on the
  server and streaming its elements; Streamlit sends each element when the script reaches it);
- ``after``: last message -> every plotly chart drawn and the running indicator gone (the
  browser turning the last payloads into DOM and SVG);
- ``total``: click -> rendered, as ``bench_pages.py --only-browser`` measures it;
- ``renderer busy``: the page renderer's main-thread task time during the click (Chrome's
  TaskDuration metric: script, style, layout, paint), less sensitive to other load than wall time;
- ``main-thread JS``: the renderer's JavaScript CPU time during the click, from Chrome's
  sampling profiler, split into plotly.js and everything else (React, Streamlit, protobuf);
- ``charts / points / payload``: plotly charts on the page, data points in their traces,
  and the bytes of websocket payload the run sent.

Prints numbers only; never asserts on time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PAGES = ["Summary", "Store", "Compare stores", "Staffing", "Live", "Privacy"]
# Rendered: the new page's script run is over (Streamlit's own script-state attribute, which
# its e2e tests wait on; the status widget only shows after a delay, so "no status widget"
# could pass while later elements were still on their way) and every plotly chart drawn.
DONE_JS = """() => document.querySelector(
        '[data-testid="stApp"][data-test-script-state="notRunning"]')
    && [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
       .every(c => c.querySelector('.main-svg'))"""
POINTS_JS = """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')]
    .map(g => (g.data || []).reduce((n, t) => n + ((t.x || t.z || t.y || []).length || 0), 0))"""


def _profile_split(profile: dict) -> tuple[float, float, dict[str, float]]:
    """(plotly ms, other JS ms, top functions) of a CDP Profiler profile: self time by
    the script that owns each sampled function (plotly.js is its own bundle chunk)."""
    nodes = {n["id"]: n for n in profile["nodes"]}
    self_ms: dict[int, float] = defaultdict(float)
    samples, deltas = profile.get("samples", []), profile.get("timeDeltas", [])
    for i, node_id in enumerate(samples):
        dt = deltas[i + 1] if i + 1 < len(deltas) else 0
        self_ms[node_id] += dt / 1000.0
    plotly = other = 0.0
    by_fn: dict[str, float] = defaultdict(float)
    for node_id, ms in self_ms.items():
        frame = nodes[node_id]["callFrame"]
        name, url = frame.get("functionName") or "(anon)", frame.get("url", "")
        if name in ("(idle)", "(program)", "(garbage collector)", "(root)") and not url:
            if name == "(garbage collector)":
                other += ms
            continue
        is_plotly = "plotly" in url.lower()
        if is_plotly:
            plotly += ms
        else:
            other += ms
        by_fn[f"{'plotly ' if is_plotly else ''}{name} @{url.rsplit('/', 1)[-1][:40]}"] += ms
    return plotly, other, dict(sorted(by_fn.items(), key=lambda kv: -kv[1])[:6])


def profile(
    db: Path,
    home: Path,
    pages: list[str],
    runs: int,
    top: bool,
    timeline: bool = False,
    lake: Path | None = None,
    shots: Path | None = None,
) -> None:
    from playwright.sync_api import sync_playwright

    from tests.dashboard.harness import CHROMIUM_ARGS, StreamlitServer

    env = {"STORELENS_DB": str(db), "STORELENS_HOME": str(home), "STORELENS_DEMO": "1"}
    if lake is not None:  # chain mode: Summary and Compare read every store from the lake
        env["STORELENS_LAKE"] = str(lake)
    server = StreamlitServer(env, log_path=home / "streamlit.log").start()
    rows: dict[str, dict[str, list[float]]] = {p: defaultdict(list) for p in pages}
    tops: dict[str, dict[str, float]] = {}
    timelines: dict[str, list[str]] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            frames: list[tuple[float, int]] = []

            def on_ws(ws: object) -> None:
                ws.on(  # type: ignore[attr-defined]
                    "framereceived",
                    lambda payload: frames.append((time.perf_counter(), len(payload))),
                )

            page.on("websocket", on_ws)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Profiler.enable")
            cdp.send("Performance.enable")

            def task_ms() -> float:  # renderer main-thread busy time so far
                got = cdp.send("Performance.getMetrics")["metrics"]
                return 1000 * next(m["value"] for m in got if m["name"] == "TaskDuration")

            cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            page.goto(server.url)
            page.get_by_role("heading", name="Summary").first.wait_for()
            for round_no in range(runs + 1):  # round 0 warms the server
                for link in pages:
                    page.wait_for_timeout(300)  # let the previous page's stragglers arrive
                    frames.clear()
                    cdp.send("Profiler.start")
                    busy = task_ms()
                    started = time.perf_counter()
                    page.locator('[data-testid="stSidebarNavLink"]', has_text=link).first.click()
                    page.get_by_role("heading", name=link, exact=True).first.wait_for()
                    page.wait_for_function(DONE_JS)
                    done = time.perf_counter()
                    busy = task_ms() - busy
                    prof = cdp.send("Profiler.stop")["profile"]
                    if not round_no:
                        continue
                    got = [(t, n) for t, n in frames if t >= started]
                    plotly_ms, other_ms, fns = _profile_split(prof)
                    r = rows[link]
                    r["total"].append((done - started) * 1000)
                    if got:
                        r["first msg"].append((got[0][0] - started) * 1000)
                        r["server"].append((got[-1][0] - got[0][0]) * 1000)
                        r["after"].append((done - got[-1][0]) * 1000)
                        r["payload kB"].append(sum(n for _, n in got) / 1000)
                    r["renderer busy"].append(busy)
                    r["plotly JS"].append(plotly_ms)
                    r["other JS"].append(other_ms)
                    points = page.evaluate(POINTS_JS)
                    r["charts"].append(len(points))
                    r["points"].append(sum(points))
                    tops[link] = fns
                    if shots is not None and round_no == runs:
                        shots.mkdir(parents=True, exist_ok=True)
                        name = link.lower().replace(" ", "-")
                        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                    if timeline:
                        lines = [
                            f"{(t - started) * 1000:6.0f} ms {n / 1000:6.1f} kB" for t, n in got
                        ]
                        timelines[link] = [*lines, f"{(done - started) * 1000:6.0f} ms done"]
            browser.close()
    finally:
        server.stop()
    cols = [
        "total",
        "first msg",
        "server",
        "after",
        "renderer busy",
        "plotly JS",
        "other JS",
        "charts",
        "points",
        "payload kB",
    ]
    print(
        f"\nmedian of {runs} warm clicks (ms unless named), load average {os.getloadavg()[0]:.2f}"
    )
    print("| page | " + " | ".join(cols) + " |")
    print("|" + "---|" * (len(cols) + 1))
    for link, r in rows.items():
        cells = [f"{statistics.median(r[c]):.0f}" if r.get(c) else "—" for c in cols]
        print(f"| {link} | " + " | ".join(cells) + " |")
    if top:
        for link, fns in tops.items():
            print(f"\n{link}: top JS self time (last run)")
            for fn, ms in fns.items():
                print(f"  {ms:7.1f} ms  {fn}")
    for link, lines in timelines.items():
        print(f"\n{link}: websocket messages after the click (last run)")
        print("\n".join(f"  {line}" for line in lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a seeded database (default: seed one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pages", default=",".join(PAGES))
    parser.add_argument("--top", action="store_true", help="print the top JS functions")
    parser.add_argument("--timeline", action="store_true", help="print each page's messages")
    parser.add_argument("--lake", type=Path, help="chain mode: a lake (bench_hq.py builds one)")
    parser.add_argument("--shots", type=Path, help="save each page's last render here")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="profile-pages-"))
    (tmp / "home").mkdir()
    db = args.db
    if db is None:
        db = tmp / "demo.duckdb"
        subprocess.run(
            [sys.executable, "-m", "storelens.app.cli", "demo", "seed", "--db", str(db)],
            check=True,
            cwd=REPO,
        )
    profile(
        db,
        tmp / "home",
        [p.strip() for p in args.pages.split(",")],
        args.runs,
        args.top,
        args.timeline,
        args.lake,
        args.shots,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
