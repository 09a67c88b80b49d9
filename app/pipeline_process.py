"""The pipeline process's main: the only place that joins detectors' runner to data's writer.

``storelens pipeline`` (and the pipeline child of ``storelens up``) runs
:func:`run_pipeline`: capture workers, shared models, the one DuckDB writer, the read API
(named queries, Arrow IPC), the MJPEG tile server and the push-alert delivery worker. It
publishes where its servers listen beside the database, in ``<db>.services.json``
(:mod:`storelens.kernel.discovery`). No Streamlit import here.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from storelens.app.addresses import reachable_host
from storelens.detectors.sources import mask_url
from storelens.kernel import discovery
from storelens.kernel.config import (
    StoreLensConfig,
    active_config_path,
    load_config,
)
from storelens.kernel.errors import StoreLensError
from storelens.kernel.paths import (
    check_private,
    private_umask,
    runtime_files,
)

if TYPE_CHECKING:  # imported lazily at run time: `storelens --help` stays instant
    from storelens.data.writer import RetentionPolicy

log = logging.getLogger("storelens.app")
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
    from storelens.detectors.runner import Runner
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
