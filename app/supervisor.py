"""``storelens up``: supervise the pipeline and the dashboard as two processes.

DuckDB lets one process write or many read, never both, and Streamlit pages must not own
capture threads or loop forever. So ``storelens up`` runs two processes:

* the **pipeline** (``storelens pipeline``, :mod:`storelens.app.pipeline_process`);
* the **dashboard** (``streamlit run dashboard/asgi.py``): reads only through the read
  API; the browser pulls the tiles' MJPEG streams from the tile server.

A supervisor restarts a crashed pipeline with a bounded restart rate. No Streamlit import
here: this module is plain process plumbing.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from storelens.app.addresses import dashboard_address, sign_in_configured, tile_host_for
from storelens.app.pipeline_process import EXIT_REFUSED
from storelens.kernel.config import (
    CONFIG_ENV,
    CONFIG_ERROR_ENV,
)
from storelens.kernel.paths import (
    PROJECT_ROOT,
)

if TYPE_CHECKING:  # imported lazily at run time: `storelens --help` stays instant
    pass

log = logging.getLogger("storelens.app")
T = TypeVar("T")


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the supervisor dies, even by SIGKILL (Linux), so a
    killed `storelens up` never leaves an orphan holding the ports or the database."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Supervisor:
    """Restart a crashed child, at most ``max_restarts`` within ``window_s`` (then give up)."""

    def __init__(
        self,
        argv: list[str],
        name: str,
        max_restarts: int = 5,
        window_s: float = 300.0,
        env: dict | None = None,
    ) -> None:
        self.argv, self.name, self.env = argv, name, env
        self.max_restarts, self.window_s = max_restarts, window_s
        self.restarts: deque[float] = deque()
        self.proc: subprocess.Popen | None = None
        self.gave_up = False
        self.refused = False

    def start(self) -> None:
        log.info("starting %s: %s", self.name, " ".join(self.argv))
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=PROJECT_ROOT, preexec_fn=_die_with_parent
        )

    def poll(self) -> None:
        """Restart the child if it died, within the restart budget."""
        if self.proc is None or self.gave_up or self.proc.poll() is None:
            return
        if self.proc.returncode == EXIT_REFUSED:
            # It refused to start (a taken port, a bad option, too-open files) and said why
            # in one line: the same start would fail the same way, so no crash loop.
            log.error("%s refused to start (see its error above); not restarting", self.name)
            self.refused = self.gave_up = True
            return
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > self.window_s:
            self.restarts.popleft()
        if len(self.restarts) >= self.max_restarts:
            log.error(
                "%s crashed %d times in %.0f s; not restarting",
                self.name,
                len(self.restarts),
                self.window_s,
            )
            self.gave_up = True
            return
        log.warning("%s exited with %s; restarting", self.name, self.proc.returncode)
        self.restarts.append(now)
        self.start()

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def dashboard_argv(port: int, address: str | None) -> list[str]:
    """``streamlit run dashboard/asgi.py``: app.py plus the session routes (asgi.py)."""
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PROJECT_ROOT / "dashboard" / "asgi.py"),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    if address:
        argv += ["--server.address", address]
    return argv


def run_up(
    config_path: str | None,
    db_path: Path,
    port: int,
    seed: bool,
    config_error: str | None = None,
    host: str | None = None,
    api_port: int = 0,
    tile_port: int = 0,
) -> int:
    """`storelens up`: seed the demo history if empty, then supervise pipeline + dashboard.

    With ``config_error`` (the config did not validate) only the dashboard starts, in safe
    mode: it shows the error, naming the file, the field and the fix, instead of a trace.
    ``host`` is where the dashboard listens (see :func:`dashboard_address`).
    """
    env = dict(os.environ, STORELENS_DB=str(db_path))
    if config_error:
        env[CONFIG_ERROR_ENV] = config_error
    if config_path:
        env[CONFIG_ENV] = str(config_path)
    exe = [sys.executable, "-m", "storelens.app.cli"]
    if seed and not db_path.exists():
        subprocess.run([*exe, "demo", "seed", "--db", str(db_path)], env=env, check=True)
    if env.get("STORELENS_LAKE"):
        # Chain mode: publish what is not in the lake yet before the pages read it (the
        # first time the whole seeded history; later seconds); then the pipeline keeps it
        # up to date in the background.
        subprocess.run(
            [*exe, "lake", "publish", "--db", str(db_path), "--lake", env["STORELENS_LAKE"]],
            env=env,
            check=False,
        )
    address, listening = dashboard_address(host, sign_in_configured(env))
    # The tile server listens where the dashboard does: a tablet that reaches the dashboard
    # reaches its tiles (issue 18, item 2).
    ports = ["--api-port", str(api_port), "--tile-port", str(tile_port)]
    ports += ["--tile-host", tile_host_for(address)]
    pipeline = Supervisor([*exe, "pipeline", "--db", str(db_path), *ports], "pipeline", env=env)
    dashboard = Supervisor(dashboard_argv(port, address), "dashboard", env=env)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if not config_error:
        pipeline.start()
    dashboard.start()
    print(f"StoreLens: dashboard on http://localhost:{port}  (Ctrl-C stops)", flush=True)
    print(f"StoreLens: {listening}", flush=True)
    try:
        while not stop.wait(1.0):
            pipeline.poll()
            dashboard.poll()
            if pipeline.refused or dashboard.refused:
                print("StoreLens: a process refused to start; stopping (see above)", flush=True)
                return EXIT_REFUSED
            if pipeline.gave_up or dashboard.gave_up:
                print(
                    "StoreLens: a process keeps crashing; stopping (see the log above)", flush=True
                )
                return 1
    finally:
        dashboard.stop()
        pipeline.stop()
    return 0
