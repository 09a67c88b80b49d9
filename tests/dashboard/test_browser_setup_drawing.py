"""A zone drawn by clicks on the camera's still is saved and counted after a pipeline
restart (issue 19, item 8), end to end: the real pipeline (real footage, real models) as a
process of its own, the real dashboard, headless Chromium clicking on the picture.

1. The pipeline runs camera ``cam-a`` (Intel's store-aisle clip) with no zones.
2. An admin opens Setup, clicks four corners on the still, names the zone (no Enter),
   adds it as a queue zone and saves the camera.
3. The pipeline restarts on the saved file; after a while it is stopped (SIGTERM flushes
   every row) and the database holds queue samples of the drawn zone with people in it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.dashboard.harness import (
    CHROMIUM_ARGS,
    StreamlitServer,
    browser_dashboard_files,
    sign_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 90_000
SHOTS = Path("/tmp/shots/engineer-c")
SECRET = "drawing-test-secret"
ZONE = "Aisle queue"
# Frame pixels of the clip (480 x 270): most of the floor.
CORNERS = [(40, 60), (440, 60), (440, 262), (40, 262)]


class Pipeline:
    """``storelens pipeline`` on the store config, stoppable with SIGTERM (rows flushed)."""

    def __init__(self, config: Path, db: Path, env: dict[str, str], log: Path) -> None:
        self.config, self.db, self.env, self.log = config, db, env, log
        self.proc: subprocess.Popen | None = None

    def start(self) -> Pipeline:
        from storelens.kernel.discovery import discovery_path

        argv = [sys.executable, "-m", "storelens.app.cli", "pipeline"]
        argv += ["--config", str(self.config), "--db", str(self.db)]
        argv += ["--tile-port", "0", "--api-port", "0"]
        out = open(self.log, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        services = discovery_path(self.db)
        deadline = time.monotonic() + 240
        while not services.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pipeline did not start; see {self.log}")
            time.sleep(0.5)
        return self

    def analysing(self, camera_id: str, deadline_s: float = 240) -> None:
        """Wait until the camera's frames are analysed (its status says so)."""
        import json
        import urllib.request

        from storelens.kernel.discovery import read_services
        from storelens.kernel.tile_tokens import status_url

        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            tiles = read_services(self.db).get("tiles")
            try:
                with urllib.request.urlopen(status_url(tiles, SECRET.encode()), timeout=5) as r:
                    if json.loads(r.read()).get(camera_id, {}).get("analysed_fps", 0) > 0:
                        return
            except (OSError, ValueError, TypeError):
                pass
            time.sleep(1)
        raise AssertionError(f"{camera_id} was not analysed within {deadline_s} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                assert self.proc.wait(timeout=90) == 0, f"pipeline exit; see {self.log}"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise


@pytest.fixture(scope="module")
def browser() -> Iterator:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (PyPI) not installed")
    sync_api.expect.set_options(timeout=TIMEOUT_MS)
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


def screen_point(page, x: float, y: float) -> tuple[float, float]:
    """Where frame pixel (x, y) of the Setup still is on the screen (plotly's own axes)."""
    return tuple(
        page.evaluate(
            """([x, y]) => {
                const gd = document.querySelector('[data-testid="stPlotlyChart"] .js-plotly-plot');
                const r = gd.getBoundingClientRect(), fl = gd._fullLayout;
                return [r.left + fl.xaxis._offset + fl.xaxis.l2p(x),
                        r.top + fl.yaxis._offset + fl.yaxis.l2p(y)];
            }""",
            [x, y],
        )
    )


def test_zone_drawn_by_clicks_is_saved_and_counted_after_restart(
    dashboard_db_master: Path, shared_media: Path, tmp_path: Path, browser
) -> None:
    from playwright.sync_api import expect

    # The dashboard's users; the database is the pipeline's own (it creates it).
    _, home, secrets = browser_dashboard_files(
        tmp_path, dashboard_db_master, ["cam-a"], {"ada": ("admin", None)}
    )
    db = tmp_path / "live.duckdb"
    config = home / "store.toml"  # the file Setup edits, and the pipeline runs on
    config.write_text(
        '[store]\nstore_id = "t1"\nname = "Test Store"\ntimezone = "UTC"\n'
        "open_hour = 0\nclose_hour = 24\n"
        f'[[cameras]]\ncamera_id = "cam-a"\nname = "Aisle"\n'
        f'source = "{shared_media / "store-aisle-detection.gif"}"\n'
    )
    env = dict(
        os.environ,
        STORELENS_HOME=str(home),
        STORELENS_DB=str(db),
        STORELENS_STREAM_SECRET=SECRET,
        STORELENS_DEMO="0",
        YOLO_OFFLINE="1",
    )
    pipeline = Pipeline(config, db, env, tmp_path / "pipeline.log").start()
    server = StreamlitServer(env, secrets, tmp_path / "streamlit.log")
    context = None
    try:
        pipeline.analysing("cam-a")
        server.start()
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"{server.url}/setup")
        sign_in(page, "ada", "ada-pw")
        expect(page.get_by_role("heading", name="Setup", exact=True).first).to_be_visible()
        expect(page.get_by_text("Click to draw lines and zones")).to_be_visible()
        # The still came from the running pipeline (a picture under the axes).
        expect(page.locator('[data-testid="stPlotlyChart"] image')).to_have_count(1)

        for n, (x, y) in enumerate(CORNERS, start=1):
            sx, sy = screen_point(page, x, y)
            page.mouse.move(sx, sy)
            page.wait_for_timeout(300)  # plotly picks the hovered point on mouse move
            page.mouse.click(sx, sy)
            expect(page.get_by_text(f"{n} clicked")).to_be_visible()
        page.get_by_role("radio", name="zone").check()
        # Typed, never Enter: the name registers while typing.
        page.get_by_role("textbox", name="Name of the new zone").press_sequentially(ZONE)
        page.get_by_role("combobox", name="Kind").click()
        page.get_by_role("option", name="queue", exact=True).click()
        page.get_by_role("button", name="Add zone").click()
        expect(page.get_by_role("button", name=f"Remove zone {ZONE} (queue)")).to_be_visible()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "setup-zone-drawn.png"), full_page=True)
        page.get_by_role("button", name="Save camera").click()
        expect(page.get_by_text("Saved Aisle (cam-a)")).to_be_visible()

        saved = tomllib.loads(config.read_text())
        (zone,) = saved["cameras"][0]["zones"]
        assert zone["name"] == ZONE and zone["kind"] == "queue"
        # Each corner lands on the click grid: within a grid step (5 px) of where we clicked.
        assert len(zone["polygon"]) == 4
        for (x, y), (zx, zy) in zip(CORNERS, zone["polygon"], strict=True):
            assert abs(zx - x) <= 5 and abs(zy - y) <= 5, zone["polygon"]

        # The pipeline applies the saved file when it restarts.
        pipeline.stop()
        pipeline = Pipeline(config, db, env, tmp_path / "pipeline.log").start()
        pipeline.analysing("cam-a")
        page.reload()
        expect(page.get_by_text("Click to draw lines and zones")).to_be_visible()
        time.sleep(8)  # let it count for a while (the clip shows people in the aisle)
        page.reload()
        expect(page.get_by_text("Click to draw lines and zones")).to_be_visible()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(SHOTS / "setup-zone-after-restart.png"), full_page=True)
    finally:
        if context is not None:
            context.close()
        server.stop()
        pipeline.stop()
    con = duckdb.connect(str(db), read_only=True)
    try:
        samples, most = con.execute(
            "SELECT count(*), max(length) FROM queue_samples WHERE camera_id = 'cam-a' "
            "AND zone = ?",
            [ZONE],
        ).fetchall()[0]
    finally:
        con.close()
    assert samples > 0, "the restarted pipeline did not sample the drawn zone"
    assert most and most > 0, "nobody was ever counted in the drawn zone"
