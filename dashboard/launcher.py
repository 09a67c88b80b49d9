"""Process wiring: the only module that joins detectors' runner to data's writer.

DuckDB lets one process write or many read, never both, and Streamlit pages must
not own capture threads or loop forever. So ``storelens up`` runs two processes:

* the **pipeline** (``storelens pipeline``): capture workers, shared models, the
  one DuckDB writer, the read API (named queries, Arrow IPC) and the MJPEG tile
  server. It publishes where its servers listen beside the database, in
  ``<db>.services.json`` (:mod:`storelens.kernel.discovery`);
* the **dashboard** (``streamlit run dashboard/asgi.py``): reads only through the
  read API; the browser pulls the tiles' MJPEG streams from the tile server.

A supervisor restarts a crashed pipeline with a bounded restart rate.
No Streamlit import here: this module is plain process plumbing.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from storelens.detectors.sources import mask_url
from storelens.kernel import discovery
from storelens.kernel.config import (
    CONFIG_ENV,
    CONFIG_ERROR_ENV,
    StoreLensConfig,
    active_config_path,
    load_config,
)
from storelens.kernel.errors import StoreLensError
from storelens.kernel.paths import (
    PROJECT_ROOT,
    check_private,
    private_umask,
    runtime_files,
)

if TYPE_CHECKING:  # imported lazily at run time: `storelens --help` stays instant
    from storelens.data.writer import RetentionPolicy

log = logging.getLogger("storelens.launcher")
T = TypeVar("T")


def resolve_config(path: str | Path | None) -> StoreLensConfig:
    """The config in force (:func:`storelens.kernel.config.active_config_path`), else the demo."""
    active = active_config_path(path)
    if active is not None:
        return load_config(active)
    from storelens.detectors.demo import demo_config

    return demo_config()


def register_store(writer, config: StoreLensConfig) -> None:
    """Upsert the store and its cameras through the one writer (credentials masked)."""
    from storelens.data.catalog import upsert_camera, upsert_store

    s = config.store

    def apply(con) -> None:
        upsert_store(
            con, s.store_id, s.name, s.region, s.timezone, s.open_hour, s.close_hour, s.area_m2
        )
        for cam in config.cameras:
            upsert_camera(
                con,
                cam.camera_id,
                s.store_id,
                cam.name,
                str(cam.role),
                mask_url(cam.source),
                [line.model_dump(mode="json") for line in cam.lines],
                [zone.model_dump(mode="json") for zone in cam.zones],
            )

    writer.execute_admin(apply)


def retention_policy(config: StoreLensConfig) -> RetentionPolicy:
    """The writer's retention from the config's privacy settings (what Setup saves)."""
    from storelens.data.writer import RetentionPolicy

    privacy = config.privacy
    return RetentionPolicy(
        detections=privacy.detections_retention_days,
        events=privacy.events_retention_days,
        tracks=privacy.events_retention_days,
        queue_samples=privacy.events_retention_days,
    )


def run_pipeline(
    config: StoreLensConfig,
    db_path: Path,
    host: str = "127.0.0.1",
    tile_port: int = 0,
    api_port: int = 0,
    tile_host: str = "127.0.0.1",
    stop_event: threading.Event | None = None,
) -> int:
    """The pipeline process body: runs until SIGTERM/SIGINT (or ``stop_event``), then flushes.

    Ports 0 (the default) are free ones the system picks; where the servers listen is
    published in ``<db>.services.json``, so two StoreLens (or any program on a port) never
    collide. An explicit port that is taken raises :class:`PortTaken`."""
    from storelens.data.readapi import serve
    from storelens.data.writer import Writer, WriterConfig
    from storelens.detectors.hub import FrameHub
    from storelens.detectors.pipeline import Runner
    from storelens.detectors.stream import TileServer

    stop = stop_event or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    # Runtime files private (kernel/paths.py): created so, older ones tightened or refused.
    private_umask()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    check_private(runtime_files(db_path))
    # Both servers listen before anything else starts, so a taken port is one line naming
    # the port and its flag (PortTaken: the CLI exits 2, the supervisor does not restart).
    hub = FrameHub()
    tiles = listen(
        "tile server",
        "--tile-port",
        tile_host,
        tile_port,
        lambda: TileServer(hub, tile_host, tile_port),
    )
    try:
        check_port_free("read API", "--api-port", host, api_port)  # before the file opens
        writer = Writer(db_path, WriterConfig(retention=retention_policy(config)))
        try:
            register_store(writer, config)
            api = listen(
                "read API",
                "--api-port",
                host,
                api_port,
                lambda: serve(writer, host, api_port, publish=False),  # published below
            )
        except BaseException:
            writer.close()
            raise
    except BaseException:
        tiles.server_close()
        raise
    tiles.start()
    from storelens.data.lake import loop_from_env

    # chain mode: publish to the lake in the background, cells under the minimum group suppressed
    lake_loop = loop_from_env(writer.cursor, config.privacy.min_group_size)
    runner = Runner(config, writer, hub)
    # Alerts raised before this start stay raised: no re-fire for the same situation.
    resume_alerts(writer, {cid: p.alert_rules for cid, p in runner.pipelines.items()})
    delivery = start_delivery(writer, config)  # push alerts: MQTT / webhooks (issue 19)
    runner.start()
    services = {
        "read_api": api.url,
        "secret": api.secret.hex(),
        "tiles": f"http://{reachable_host(tile_host)}:{tiles.server_address[1]}",
        "store_id": config.store.store_id,
        "cameras": [{"camera_id": c.camera_id, "name": c.name} for c in config.cameras],
    }
    discovery.publish(db_path, services)
    log.info("pipeline up: %s", {k: v for k, v in services.items() if k != "secret"})
    exit_code = 0
    try:
        while not stop.wait(1.0):
            if runner.fatal:
                # A model that hangs on every frame: exit non-zero so the supervisor restarts
                # the process with fresh models (bounded restart rate).
                log.error("pipeline unhealthy: %s; exiting for a restart", runner.fatal)
                exit_code = 3
                break
    finally:
        runner.stop()
        delivery.stop()  # after the runner: its last alerts are in the log for the next start
        tiles.stop()
        api.stop()
        if lake_loop is not None:
            lake_loop.stop()
        writer.close()
        discovery.unpublish(db_path, pid=os.getpid())
    return exit_code


class PortTaken(StoreLensError):
    """A port a server was told to listen on is taken (or not allowed)."""


EXIT_REFUSED = 2  # the CLI's exit code for a usage or config error: restarting cannot help


def listen(what: str, flag: str, host: str, port: int, make: Callable[[], T]) -> T:
    """``make()`` (a server that binds ``host:port``), or :class:`PortTaken` naming the port
    and the ``flag`` that chose it instead of an ``OSError`` traceback."""
    try:
        return make()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            why = "is taken: another program (or another StoreLens) listens there"
        elif exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            why = f"cannot be used ({exc.strerror})"
        else:
            raise
        raise PortTaken(
            f"port {port} on {host} for the {what} {why}; pass a free one with {flag}, "
            f"or leave {flag} out to get a free port"
        ) from None


def check_port_free(what: str, flag: str, host: str | None, port: int) -> None:
    """Fail early, in the process that starts everything, when an explicit port is taken
    (0: a free one will be picked, nothing to check)."""
    if not port:
        return

    def bind() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
            sock.bind((host or "0.0.0.0", port))

    listen(what, flag, host or "every interface", port, bind)


def start_delivery(writer, config: StoreLensConfig):
    """The push-alert delivery worker (data/alert_delivery.py) for the config's channels,
    speaking the Live page's words (dashboard/alert_text.py); idle without channels."""
    from storelens.dashboard.alert_text import push_words
    from storelens.data.alert_delivery import DeliveryWorker

    return DeliveryWorker(writer, config.store.store_id, config.alerts, push_words).start()


def resume_alerts(writer, rules: dict, now: float | None = None) -> None:
    """Hand each camera's alert rules (``camera_id -> detectors.alerts.AlertRules``) its
    recent alerts from the database, so a restarted pipeline does not raise again what
    the last run already raised (issue 18, item 4)."""
    from datetime import UTC, datetime

    from storelens.data.actions import recent_alerts
    from storelens.detectors.alerts import RESTART_MEMORY_S

    now = time.time() if now is None else now
    since = datetime.fromtimestamp(now - RESTART_MEMORY_S, UTC)
    cur = writer.cursor()
    try:
        per_camera = recent_alerts(cur, list(rules), since)
    finally:
        cur.close()
    for camera_id, camera_rules in rules.items():
        camera_rules.resume(per_camera[camera_id], now)


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


LOOPBACK = ("127.0.0.1", "::1", "localhost")


def sign_in_configured(env: dict | None = None) -> bool:
    """Whether the dashboard will ask for a sign-in (local users or OIDC), read from the same
    secrets.toml files Streamlit reads (``~/.streamlit`` and the project's ``.streamlit``)."""
    import tomllib

    from storelens.dashboard.auth import AuthError, auth_config

    merged: dict = {}
    for path in (
        Path.home() / ".streamlit" / "secrets.toml",
        PROJECT_ROOT / ".streamlit" / "secrets.toml",
    ):
        try:
            merged.update(tomllib.loads(path.read_text()))
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError):
            return True  # unreadable: the dashboard refuses to sign anyone in, no demo
    try:
        return auth_config(merged, os.environ if env is None else env).mode != "demo"
    except AuthError:
        return True  # misconfigured users: the sign-in page shows the error, never data


def dashboard_address(host: str | None, signin: bool) -> tuple[str | None, str]:
    """Where the dashboard listens, and the line that says so at start.

    Without sign-in (demo mode) everyone who reaches the port is an executive, so it
    listens on 127.0.0.1 unless ``--host`` opts in to more; with sign-in Streamlit's
    default (every interface) stays.
    """
    if host is not None and not host.strip():
        raise ValueError("--host must be an address such as 127.0.0.1 or 0.0.0.0")
    if signin:
        return host, f"sign-in required; listening on {host or 'every interface'}"
    if host is None:
        return "127.0.0.1", (
            "demo mode without sign-in: listening on 127.0.0.1 only "
            "(--host 0.0.0.0 opens it to the network)"
        )
    if host in LOOPBACK:
        return host, f"demo mode without sign-in: listening on {host} only"
    return host, (
        f"WARNING: demo mode without sign-in on {host}: anyone who reaches this machine "
        "sees every store as an executive"
    )


WILDCARDS = ("0.0.0.0", "::", "")


def tile_host_for(address: str | None) -> str:
    """Where the tile server listens for a dashboard bound to ``address`` (issue 18, item 2).

    The browser pulls the tiles from the same host it reached the dashboard by, so the tile
    server listens wherever the dashboard does: loopback when the dashboard is loopback only
    (the default in demo mode), every interface when the dashboard listens on every one
    (``None``: Streamlit's default, as with sign-in), else that very address."""
    if address is None or address in WILDCARDS:
        return "0.0.0.0"
    return address


def reachable_host(bind: str) -> str:
    """The address a process on this machine connects to for a server bound to ``bind``
    (what ``<db>.services.json`` publishes: a wildcard is not an address to dial)."""
    if bind in WILDCARDS:
        return "127.0.0.1"
    return f"[{bind}]" if ":" in bind else bind


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
    exe = [sys.executable, "-m", "storelens.dashboard.cli"]
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
