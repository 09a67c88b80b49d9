"""Soak run (issue 6, item 5): the real pipeline and dashboard for N minutes, sampled.

    .venv/bin/python benchmarks/soak.py --minutes 30            # the real soak
    .venv/bin/python benchmarks/soak.py --minutes 3 --sample-s 20 --restart-every 60   # a try

Setup: 4 looping cameras (three shared clips as files, one RTSP camera served by the
GStreamer RTSP server of tests/detectors/rtsp_server.py, killed and restarted every
``--restart-every`` seconds), one `storelens pipeline` process against a fresh database,
the Streamlit dashboard (demo sign-in) with its Live page open in headless Chromium.

Every ``--sample-s`` seconds it prints one row: analysed fps per camera (mean of the tile
server's /status over the interval), RSS of the pipeline, the dashboard and the browser
(the whole process tree), database and WAL size, and reconnects. At the end it prints the
least-squares slope of each series per minute ("flat" means memory and fps do not drift)
and writes the table as CSV under var/soak/<UTC stamp>/.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RTSP_SCRIPT = REPO / "tests" / "detectors" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"
CLIPS = ("store-aisle-detection.gif", "people-detection.gif", "face-demographics-walking.gif")
SECRET = "soak-stream-secret"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------ processes


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(stat.parent.name))
    return kids


def tree_rss_mb(root: int, kids: dict[int, list[int]]) -> float:
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        total += rss_mb(pid)
        stack.extend(kids.get(pid, []))
    return total


class RtspCamera:
    """The test suite's real RTSP server, restartable on the same port."""

    def __init__(self) -> None:
        self.port = 0
        self.proc: subprocess.Popen[str] | None = None
        self.restarts = 0

    def start(self) -> RtspCamera:
        deadline = time.monotonic() + 30
        while True:
            proc = subprocess.Popen(
                [
                    SYSTEM_PYTHON,
                    str(RTSP_SCRIPT),
                    "--port",
                    str(self.port),
                    "--path",
                    "/cam",
                    "--width",
                    "480",
                    "--height",
                    "270",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            line = (proc.stdout.readline() if proc.stdout else "").strip()
            if line.startswith("READY "):
                self.port, self.proc = int(line.split()[1]), proc
                return self
            proc.kill()
            proc.wait(10)
            if time.monotonic() > deadline:
                raise RuntimeError(f"RTSP server did not start: {line!r}")
            time.sleep(0.5)

    def restart(self) -> None:
        self.stop()
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"


def write_config(path: Path, media: Path, rtsp_url: str) -> None:
    lines = ['[store]\nstore_id = "soak"\nname = "Soak Store"\ntimezone = "UTC"\n']
    for i, clip in enumerate(CLIPS, 1):
        lines.append(
            f'[[cameras]]\ncamera_id = "cam-{i}"\nname = "{clip}"\nsource = "{media / clip}"\n'
        )
    lines.append(
        f'[[cameras]]\ncamera_id = "cam-rtsp"\nname = "RTSP (restarted)"\nsource = "{rtsp_url}"\n'
    )
    path.write_text("\n".join(lines))


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def open_browser(url: str, out: Path) -> tuple[Any, Any, str]:
    """Headless Chromium on the dashboard's Live page; (playwright, browser, note)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return None, None, "no chromium: dashboard not opened in a browser"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, None, "playwright not installed: dashboard not opened in a browser"
    from tests.dashboard.harness import CHROMIUM_ARGS

    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url, wait_until="domcontentloaded", timeout=120_000)
    page.wait_for_timeout(8000)
    page.screenshot(path=str(out / "live-start.png"))
    return pw, browser, f"Live page open in headless Chromium ({url})"


# ------------------------------------------------------------------------------ statistics


def slope_per_minute(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-s", type=float, default=60.0, help="seconds per table row")
    parser.add_argument(
        "--restart-every", type=float, default=180.0, help="RTSP camera restart period (s)"
    )
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from storelens.app.supervisor import dashboard_argv
    from storelens.kernel.discovery import read_services
    from storelens.kernel.paths import shared_dir

    media = shared_dir() / "media"
    if not media.is_dir():
        print(f"soak: shared footage not found at {media}", file=sys.stderr)
        return 2
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = REPO / "var" / "soak" / stamp
    home = out / "home"
    home.mkdir(parents=True)
    if (REPO / "var" / "models").is_dir():  # reuse the exported-model cache
        (home / "models").symlink_to(REPO / "var" / "models", target_is_directory=True)
    db = out / "soak.duckdb"
    rtsp = RtspCamera().start()
    config = out / "soak.toml"
    write_config(config, media, rtsp.url)
    env = dict(
        os.environ,
        STORELENS_HOME=str(home),
        STORELENS_DB=str(db),
        STORELENS_STREAM_SECRET=SECRET,
        STORELENS_DEMO="1",
        YOLO_OFFLINE="1",
    )
    log = (out / "pipeline.log").open("wb")
    pipeline = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storelens.app.cli",
            "pipeline",
            "--config",
            str(config),
            "--db",
            str(db),
            "--tile-port",
            "0",
            "--api-port",
            "0",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    port = free_port()
    dash_log = (out / "dashboard.log").open("wb")
    dashboard = subprocess.Popen(
        dashboard_argv(port, None),  # what `storelens up` runs
        cwd=REPO,
        env=env,
        stdout=dash_log,
        stderr=subprocess.STDOUT,
    )
    pw = browser = None
    rows: list[dict[str, Any]] = []
    try:
        services: dict[str, Any] = {}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and pipeline.poll() is None:
            services = read_services(db)
            if services:
                break
            time.sleep(1)
        if not services:
            print("soak: the pipeline did not come up; see", out / "pipeline.log", file=sys.stderr)
            return 1
        note = "browser skipped (--no-browser)"
        if not args.no_browser:
            try:
                for _ in range(120):
                    try:
                        with urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/_stcore/health", timeout=5
                        ) as r:
                            if r.read().strip() == b"ok":
                                break
                    except OSError:
                        pass
                    time.sleep(1)
                pw, browser, note = open_browser(f"http://127.0.0.1:{port}/live", out)
            except Exception as exc:  # a soak without the browser still measures the rest
                note = f"browser failed: {type(exc).__name__}: {exc}"
        print(
            f"soak: {args.minutes:g} min, sample every {args.sample_s:g} s, RTSP camera restarted "
            f"every {args.restart_every:g} s; {note}; files in {out}",
            flush=True,
        )
        cams = [c["camera_id"] for c in services["cameras"]]
        header = [
            "min",
            *[f"fps {c}" for c in cams],
            "rss pipeline MB",
            "rss dashboard MB",
            "rss browser MB",
            "db MB",
            "wal MB",
            "reconnects",
            "rtsp restarts",
        ]
        print(" | ".join(header), flush=True)
        start = time.monotonic()
        next_restart = start + args.restart_every
        end = start + args.minutes * 60
        me = os.getpid()
        while time.monotonic() < end and pipeline.poll() is None:
            window_end = min(end, time.monotonic() + args.sample_s)
            fps: dict[str, list[float]] = {c: [] for c in cams}
            status: dict[str, Any] = {}
            while time.monotonic() < window_end:
                if time.monotonic() >= next_restart:
                    rtsp.restart()
                    next_restart += args.restart_every
                try:
                    from storelens.kernel.tile_tokens import status_url

                    status = get_json(status_url(services["tiles"], SECRET.encode()))
                    for c in cams:
                        fps[c].append(float(status.get(c, {}).get("analysed_fps", 0.0)))
                except (OSError, ValueError):
                    pass
                time.sleep(min(5.0, max(0.1, window_end - time.monotonic())))
            kids = children_map()
            # The browser: every child tree of this process except the ones we started.
            ours = {pipeline.pid, dashboard.pid, rtsp.proc.pid if rtsp.proc else -1}
            browser_rss = sum(tree_rss_mb(k, kids) for k in kids.get(me, []) if k not in ours)
            wal = db.with_name(db.name + ".wal")
            row = {
                "min": round((time.monotonic() - start) / 60, 2),
                **{f"fps {c}": round(sum(v) / len(v), 2) if v else 0.0 for c, v in fps.items()},
                "rss pipeline MB": round(rss_mb(pipeline.pid), 1),
                "rss dashboard MB": round(rss_mb(dashboard.pid), 1),
                "rss browser MB": round(browser_rss, 1),
                "db MB": round(db.stat().st_size / 2**20, 2) if db.exists() else 0.0,
                "wal MB": round(wal.stat().st_size / 2**20, 2) if wal.exists() else 0.0,
                "reconnects": sum(int(s.get("reconnects", 0)) for s in status.values()),
                "rtsp restarts": rtsp.restarts,
            }
            rows.append(row)
            print(" | ".join(str(row[h]) for h in header), flush=True)
        if pipeline.poll() is not None:
            print(f"soak: the pipeline exited early with {pipeline.returncode}", flush=True)
    finally:
        if browser is not None:
            with contextlib.suppress(Exception):  # a screenshot must not hide the numbers
                browser.contexts[0].pages[0].screenshot(path=str(out / "live-end.png"))
            browser.close()
        if pw is not None:
            pw.stop()
        for proc in (dashboard, pipeline):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
        rtsp.stop()
    if rows:
        with (out / "soak.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        xs = [r["min"] for r in rows]
        print("\nslopes per minute (least squares over all rows; flat = near 0):")
        for key in rows[0]:
            if key in ("min", "rtsp restarts"):
                continue
            ys = [float(r[key]) for r in rows]
            mean = sum(ys) / len(ys)
            slope = slope_per_minute(xs, ys)
            rel = f"{100 * slope * 60 / mean:+.1f} %/h of mean" if mean else ""
            print(f"  {key:24} mean {mean:9.2f}  slope {slope:+.4f}/min  {rel}")
        print(f"\nrows written to {out / 'soak.csv'}")
    return 0 if rows and pipeline.returncode in (None, 0) else 1


if __name__ == "__main__":
    sys.exit(main())
