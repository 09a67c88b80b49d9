"""Real servers for browser tests and benchmarks: a Streamlit server process and a tile
server fed with synthetic frames (the pipeline's own TileServer and FrameHub, without
cameras or models, so a browser test does not depend on two busy CPU cores running YOLO).

It lives under tests/ (issue 13 item 5): a browser test harness is no part of the product,
so it is not installed with ``storelens``. Tests import it as ``tests.dashboard.harness``
(the repository root is on pytest's path); benchmarks put the checkout on ``sys.path``.
No Streamlit import here.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import cv2
import numpy as np
from storelens.detectors.hub import FrameHub
from storelens.detectors.stream import TileServer
from storelens.detectors.types import CameraState, CameraStatus
from storelens.kernel import discovery

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SyntheticTiles:
    """The pipeline's TileServer, fed ``fps`` synthetic 480×270 JPEGs per camera (a moving
    bar and a frame counter, so consecutive frames differ)."""

    def __init__(
        self,
        camera_ids: list[str],
        secret: bytes,
        fps: float = 15.0,
        size: tuple[int, int] = (480, 270),
        port: int | None = None,
    ) -> None:
        self.camera_ids, self.fps, self.size = camera_ids, fps, size
        self.hub = FrameHub()
        # The dashboard signs tile URLs with the same secret (env STORELENS_STREAM_SECRET).
        self.server = TileServer(self.hub, "127.0.0.1", port or free_port(), secret=secret)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="synthetic-tiles", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _frame(self, index: int, camera_no: int) -> bytes:
        w, h = self.size
        image = np.full((h, w, 3), 40 + 30 * camera_no, np.uint8)
        x = (index * 7) % w
        cv2.rectangle(image, (x, 40), (x + 40, h - 40), (0, 200, 255), -1)
        cv2.putText(
            image,
            f"cam {camera_no} #{index}",
            (10, 30),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8,
            (255, 255, 255),
            2,
        )
        ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 75])
        return jpeg.tobytes() if ok else b""

    def _run(self) -> None:
        index, period = 0, 1.0 / self.fps
        next_at = time.monotonic()
        while not self._stop.is_set():
            now = time.time()
            for no, camera_id in enumerate(self.camera_ids):
                self.hub.publish(camera_id, now, self._frame(index, no))
                self.hub.set_status(
                    CameraStatus(
                        camera_id,
                        camera_id,
                        CameraState.ONLINE,
                        self.fps,
                        self.fps,
                        last_frame_ts=now,
                    )
                )
            index += 1
            next_at += period
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def start(self) -> SyntheticTiles:
        self.server.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.server.stop()


@contextlib.contextmanager
def fed_tile_server(
    secret: bytes, frame_bytes: int, every_s: float, **server_options: object
) -> Iterator[TileServer]:
    """A real tile server on a free loopback port, its hub fed camera "door" with a frame
    of ``frame_bytes`` every ``every_s`` seconds until the block ends."""
    hub = FrameHub()
    server = TileServer(hub, "127.0.0.1", 0, secret=secret, **server_options).start()
    stop = threading.Event()

    def feed() -> None:
        n = 0
        while not stop.wait(every_s):
            n += 1
            hub.publish("door", time.time(), bytes([n % 256]) * frame_bytes)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield server
    finally:
        stop.set()
        feeder.join(5)
        server.stop()


def browser_dashboard_files(
    root: Path, master: Path, cameras: list[str], users: Mapping[str, tuple[str, str | None]]
) -> tuple[Path, Path, Path]:
    """What a browser test's dashboard reads: (database, home, secrets.toml) under ``root``.

    The database is a copy of the golden one (``master``) with ``cameras[1:]`` added to
    store s1 (the golden database has the first); ``home`` is an empty 0700 folder;
    ``users`` maps a user name to ``(role, store or None)`` and the password
    ``<name>-pw``.
    """
    import duckdb
    from storelens.dashboard.auth import hash_password
    from storelens.data.catalog import upsert_camera

    db, home = root / "dash.duckdb", root / "home"
    home.mkdir(mode=0o700)
    db.write_bytes(master.read_bytes())
    con = duckdb.connect(str(db))
    try:
        for camera_id in cameras[1:]:
            upsert_camera(con, camera_id, "s1", camera_id, "floor", None, [], [])
    finally:
        con.close()
    lines = []
    for name, (role, store) in users.items():
        lines.append(f'[users.{name}]\nrole = "{role}"\n')
        if store:
            lines.append(f'store = "{store}"\n')
        lines.append(f'password_hash = "{hash_password(name + "-pw")}"\n')
    secrets = root / "secrets.toml"
    secrets.write_text("".join(lines))
    return db, home, secrets


def write_services(
    db: Path,
    store_id: str,
    cameras: list[str],
    tiles_url: str,
    read_api: str | None = None,
) -> None:
    """What a running pipeline publishes for ``db``, so the dashboard shows these tiles."""
    services: dict[str, object] = {
        "tiles": tiles_url,
        "store_id": store_id,
        "cameras": [{"camera_id": c, "name": c} for c in cameras],
    }
    if read_api:
        services["read_api"] = read_api
    discovery.publish(db, services)


def sign_in(page, user: str, password: str, timeout_s: float = 60.0) -> None:
    """Sign in through the form, then wait until the browser holds the session cookie.

    The cookie is handed over by a fetch after the script run (dashboard/websession.py), so
    a reload right after the click may come before it, and a loaded machine makes that
    likely: every browser test that reloads or opens a deep link waits here first."""
    from storelens.dashboard.websession import COOKIE_NAME

    page.get_by_role("textbox", name="User name").fill(user)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    deadline = time.monotonic() + timeout_s
    while not any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
        if time.monotonic() > deadline:
            raise AssertionError(f"no session cookie {timeout_s:.0f} s after signing in {user}")
        page.wait_for_timeout(100)


class StreamlitServer:
    """``streamlit run dashboard/asgi.py`` (app.py plus the session routes) on a free port;
    ``url`` once healthy."""

    def __init__(
        self, env: Mapping[str, str], secrets_file: Path | None = None, log_path: Path | None = None
    ) -> None:
        self.port = free_port()
        self.env = {**os.environ, **env}
        self.secrets_file, self.log_path = secrets_file, log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> StreamlitServer:
        argv = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO / "dashboard" / "asgi.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
        ]
        if self.secrets_file is not None:
            argv += ["--secrets.files", str(self.secrets_file)]
        log = open(self.log_path or os.devnull, "wb")  # noqa: SIM115 - lives as long as the server
        self.proc = subprocess.Popen(
            argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"streamlit exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout_s} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def tiles_main(argv: list[str] | None = None) -> int:
    """``python -m tests.dashboard.harness --port P --secret S --cameras a,b`` (in the
    checkout): SyntheticTiles as a process of its own, so a browser test can ``kill -9`` it like a crashed pipeline and
    start a new one on the same port. Prints ``ready`` once it accepts connections."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=tiles_main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--cameras", required=True, help="comma-separated camera ids")
    parser.add_argument("--fps", type=float, default=12.0)
    args = parser.parse_args(argv)
    cameras = [c for c in args.cameras.split(",") if c]
    if not cameras:
        parser.error("--cameras needs at least one camera id")
    tiles = SyntheticTiles(cameras, args.secret.encode(), fps=args.fps, port=args.port).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C in a terminal: stop cleanly
        stop.wait()
    tiles.stop()
    return 0


if __name__ == "__main__":
    sys.exit(tiles_main())
