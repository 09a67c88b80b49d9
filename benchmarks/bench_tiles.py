"""Live tiles in headless Chromium: frames per second per tile, broken images, and the
Streamlit server's CPU while 4 tiles play.

    .venv/bin/python benchmarks/bench_tiles.py [--source synthetic|pipeline] [--seconds 20]

* ``synthetic`` (default): the pipeline's own TileServer + FrameHub in this process, fed
  480×270 JPEGs at 15 fps per camera — measures the delivery path alone.
* ``pipeline``: the real ``storelens pipeline`` process (4 demo cameras on ../shared
  footage, YOLO + tracking + overlays) — the whole system on this machine.

FPS per tile is measured in the browser: Chrome DevTools' Network.dataReceived bytes of
each MJPEG request ÷ the mean JPEG size of that camera (sampled from /frame). Broken
images: every 250 ms, any tile <img> with complete && naturalWidth == 0. CPU: the
Streamlit server process (and its children) over the window, in % of one core.
Targets (issue 5): ≥ 8 fps per tile, no broken images, ≤ 25 % of a core.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from storelens.kernel.discovery import discovery_path, read_services  # noqa: E402
from storelens.kernel.tile_tokens import sign_stream_token  # noqa: E402

from tests.dashboard.harness import (  # noqa: E402
    CHROMIUM_ARGS,
    StreamlitServer,
    SyntheticTiles,
    free_port,
    write_services,
)

CAMERAS = ["bench-cam-1", "bench-cam-2", "bench-cam-3", "bench-cam-4"]
SECRET = "bench-tiles-secret"


def bench_db(path: Path) -> None:
    from storelens.data.catalog import upsert_camera, upsert_store
    from storelens.data.writer import Writer

    def catalog(con) -> None:
        upsert_store(con, "bench", "Bench Store", "Bench", "UTC", 0, 24, 500.0)
        for camera in CAMERAS:
            upsert_camera(con, camera, "bench", camera, "floor", None, [], [])

    with Writer(path) as writer:
        writer.execute_admin(catalog)


def mean_jpeg_bytes(tiles_url: str, camera: str, samples: int = 8) -> float:
    sizes = []
    for _ in range(samples):
        token = sign_stream_token(SECRET.encode(), camera)
        try:
            with urllib.request.urlopen(
                f"{tiles_url}/frame/{camera}.jpg?token={token}", timeout=5
            ) as r:
                sizes.append(len(r.read()))
        except OSError:
            pass
        time.sleep(0.1)
    return statistics.mean(sizes) if sizes else float("nan")


def cpu_seconds(proc: psutil.Process) -> float:
    total = sum(proc.cpu_times()[:2])
    for child in proc.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=["synthetic", "pipeline"], default="synthetic")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        print("chromium not found (apt-get install -y chromium)")
        return 2
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="bench-tiles-"))
    home, db = tmp / "home", tmp / "bench.duckdb"
    home.mkdir()
    env = {
        "STORELENS_HOME": str(home),
        "STORELENS_DB": str(db),
        "STORELENS_DEMO": "1",
        "STORELENS_STREAM_SECRET": SECRET,
    }
    tiles = pipeline = None
    if args.source == "synthetic":
        bench_db(db)
        tiles = SyntheticTiles(CAMERAS, SECRET.encode(), fps=15).start()
        write_services(db, "bench", CAMERAS, tiles.url)
        tiles_url, store, cameras = tiles.url, "bench", CAMERAS
    else:
        cache = REPO / "var" / "models"
        if cache.is_dir():  # reuse exported models instead of exporting again
            (home / "models").symlink_to(cache, target_is_directory=True)
        pipeline = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "storelens.app.cli",
                "pipeline",
                "--db",
                str(db),
                "--tile-port",
                str(free_port()),
                "--api-port",
                str(free_port()),
            ],
            env={**os.environ, **env},
            cwd=REPO,
            stdout=open(tmp / "pipeline.log", "wb"),  # noqa: SIM115 - lives with the process
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 300
        while not discovery_path(db).exists():
            if pipeline.poll() is not None or time.monotonic() > deadline:
                print(f"pipeline did not start; see {tmp / 'pipeline.log'}")
                return 1
            time.sleep(1)
        services = read_services(db)
        tiles_url, store = services["tiles"], services["store_id"]
        cameras = [c["camera_id"] for c in services["cameras"]][:4]
    server = StreamlitServer(env, log_path=tmp / "streamlit.log").start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Network.enable")
            urls: dict[str, str] = {}
            received: dict[str, int] = defaultdict(int)
            counting = {"on": False}

            def on_request(event: dict) -> None:
                url = event["request"]["url"]
                if "/stream/" in url:
                    urls[event["requestId"]] = url.split("/stream/")[1].split(".mjpg")[0]

            def on_data(event: dict) -> None:
                if counting["on"] and event["requestId"] in urls:
                    received[urls[event["requestId"]]] += event["dataLength"]

            cdp.on("Network.requestWillBeSent", on_request)
            cdp.on("Network.dataReceived", on_data)
            page.goto(f"{server.url}/live?store={store}")
            # Tiles are read by the tile script (dashboard/tiles.py): it counts the frames
            # it shows per tile (data-frames) and marks a tile stale when frames stop.
            page.wait_for_function(
                "() => [...document.querySelectorAll('.sl-tile')]"
                f".filter(t => Number(t.dataset.frames) > 0).length >= {len(cameras)}"
            )
            time.sleep(3)  # settle
            proc = psutil.Process(server.proc.pid)
            sent_before = tiles.server.frames_sent if tiles else 0
            cpu_before, started = cpu_seconds(proc), time.monotonic()
            counting["on"] = True
            broken = samples = 0
            while time.monotonic() - started < args.seconds:
                broken += page.evaluate(
                    "() => [...document.querySelectorAll('.sl-tile')]"
                    ".filter(t => t.dataset.state !== 'live').length"
                )
                samples += 1
                page.wait_for_timeout(250)
            counting["on"] = False
            wall = time.monotonic() - started
            cpu = (cpu_seconds(proc) - cpu_before) / wall * 100
            sent = (tiles.server.frames_sent - sent_before) if tiles else None
            browser.close()
        print(
            f"source: {args.source}; {len(cameras)} tiles; {wall:.1f} s window; "
            f"{psutil.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        )
        fps_all = []
        for camera in cameras:
            size = mean_jpeg_bytes(tiles_url, camera)
            fps = received.get(camera, 0) / size / wall if size == size else float("nan")
            fps_all.append(fps)
            print(f"  {camera:14} {fps:5.1f} fps in the browser (mean JPEG {size / 1000:.1f} kB)")
        if sent is not None:
            print(f"  tile server sent {sent / wall / len(cameras):.1f} frames/s per tile")
        print(f"min fps per tile: {min(fps_all):.1f} (target >= 8)")
        print(f"stale/blank tile samples: {broken} of {samples * len(cameras)} (target 0)")
        print(f"streamlit server CPU: {cpu:.1f} % of one core (target <= 25 %)")
    finally:
        server.stop()
        if tiles:
            tiles.stop()
        if pipeline is not None:
            pipeline.terminate()
            try:
                pipeline.wait(30)
            except subprocess.TimeoutExpired:
                pipeline.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
