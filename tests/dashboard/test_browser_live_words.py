"""The Live page as a store manager reads it, in headless Chromium (issue 19, item 10):
names instead of ids (under the title, store picker, badges), no frame rates for managers, an
offline camera's tile says "camera offline since …" (not "waiting for the camera…"), and
tiles wide enough for the overlay's labels to be >= 12 px on screen."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.dashboard.tiles import TILE_MIN_CSS_PX
from storelens.detectors.hub import FrameHub
from storelens.detectors.stream import TileServer
from storelens.detectors.types import CameraState, CameraStatus
from storelens.kernel import discovery

from tests.dashboard.harness import CHROMIUM_ARGS, StreamlitServer, browser_dashboard_files

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TIMEOUT_MS = 60_000
SHOTS = Path("/tmp/shots/engineer-c")
SECRET = "live-words-secret"
CAMERAS = {"s1-entrance": "Front door", "s1-yard": "Yard", "s1-till": "Till"}
OFFLINE = "s1-yard"


class Feed:
    """A tile server whose hub shows two cameras live and one offline (no frames at all,
    status OFFLINE since five minutes ago), like a pipeline whose yard camera is down."""

    def __init__(self) -> None:
        self.hub = FrameHub()
        self.server = TileServer(self.hub, "127.0.0.1", 0, secret=SECRET.encode()).start()
        self.stop_event = threading.Event()
        down_since = time.time() - 300
        self.hub.set_status(
            CameraStatus(OFFLINE, CAMERAS[OFFLINE], CameraState.OFFLINE, since=down_since)
        )
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _run(self) -> None:
        image = np.full((270, 480, 3), 70, np.uint8)
        jpeg = cv2.imencode(".jpg", image)[1].tobytes()
        while not self.stop_event.wait(0.1):
            now = time.time()
            for camera_id, name in CAMERAS.items():
                if camera_id == OFFLINE:
                    continue
                self.hub.publish(camera_id, now, jpeg)
                self.hub.set_status(
                    CameraStatus(camera_id, name, CameraState.ONLINE, 10.0, 9.5, last_frame_ts=now)
                )

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self.server.stop()


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


@pytest.fixture(scope="module")
def served(dashboard_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("live-words")
    db, home, secrets = browser_dashboard_files(
        root,
        dashboard_db_master,
        list(CAMERAS),
        {"mia": ("store_manager", "s1"), "ada": ("admin", None)},
    )
    feed = Feed()
    discovery.publish(
        db,
        {
            "tiles": feed.url,
            "store_id": "s1",
            "cameras": [{"camera_id": c, "name": n} for c, n in CAMERAS.items()],
        },
    )
    env = {
        "STORELENS_DB": str(db),
        "STORELENS_HOME": str(home),
        "STORELENS_STREAM_SECRET": SECRET,
        "STORELENS_DEMO": "0",
    }
    server = StreamlitServer(env, secrets, root / "streamlit.log").start()
    try:
        yield server.url
    finally:
        server.stop()
        feed.stop()


def open_live(browser, url: str, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{url}/live?store=s1")
    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(f"{user}-pw")
    page.get_by_role("button", name="Sign in").click()
    return context, page


def test_manager_reads_names_and_an_offline_camera(served: str, browser) -> None:
    from playwright.sync_api import expect

    context, page = open_live(browser, served, "mia")
    expect(page.get_by_role("heading", name="Live", exact=True)).to_be_visible()
    expect(page.get_by_role("main").get_by_text("Store S1", exact=True)).to_be_visible()
    expect(page.get_by_role("combobox", name="Store")).to_have_value("Store S1")

    # The offline camera's tile says so, with since when, on the store's clock.
    yard = page.locator(f'.sl-tile[data-camera="{OFFLINE}"] .sl-note')
    expect(yard).to_have_text(re.compile(r"^camera offline since \d\d:\d\d UTC$"))
    expect(page.get_by_text("waiting for the camera")).to_have_count(0)
    # The live ones show frames and no note.
    page.wait_for_function(
        "() => Number(document.querySelector('.sl-tile[data-camera=\"s1-entrance\"]')"
        ".dataset.frames) > 2"
    )
    # Badges: names and states in words; frame rates are not a manager's business.
    expect(page.get_by_text("Front door: online")).to_be_visible()
    expect(page.get_by_text("Yard: offline since")).to_be_visible()
    assert page.get_by_text("fps").count() == 0
    # Every tile wide enough for the overlay's >= 12 px labels (tiles at most two a row).
    widths = page.evaluate(
        "() => [...document.querySelectorAll('.sl-tile img')].map(i => i.clientWidth)"
    )
    print(f"tile widths in a 1400 px window: {widths} CSS px")
    assert len(widths) == 3 and min(widths) >= TILE_MIN_CSS_PX
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(1000)
    page.screenshot(path=str(SHOTS / "live-manager-offline-camera.png"), full_page=True)
    context.close()


def test_admin_sees_frame_rates(served: str, browser) -> None:
    from playwright.sync_api import expect

    context, page = open_live(browser, served, "ada")
    expect(page.get_by_role("heading", name="Live", exact=True)).to_be_visible()
    expect(page.get_by_text("Front door: online · 9.5 fps")).to_be_visible()
    context.close()
