"""Real receivers for push-alert tests: Debian's mosquitto broker on a free port (stopped and
started again on the same port for outages), a paho subscriber that records every message,
and a local HTTP webhook receiver that records every POST."""

from __future__ import annotations

import base64
import getpass
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy (a wait, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


class Broker:
    """mosquitto on 127.0.0.1:``port``, anonymous (tests only). It persists sessions across
    a stop and start (saved at SIGTERM), so the test subscriber's subscription survives an
    outage and what the pipeline publishes before the subscriber is back is queued for it."""

    def __init__(self, folder: Path) -> None:
        if MOSQUITTO is None:
            pytest.fail("mosquitto is missing: scripts/setup.sh --test installs it (apt)")
        self.port = free_port()
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {folder}/\n"
            # Started as root, mosquitto would switch to its own account, which cannot
            # write the test's private folder (ignored when not started as root).
            f"user {getpass.getuser()}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

        def listening() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.proc.stderr.read()
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", self.port)) == 0

        wait_for(listening, f"mosquitto on port {self.port}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


class Subscriber:
    """Records every message under ``storelens/#``. A persistent session (QoS 1, fixed client
    id, no clean session): across a broker outage nothing published meanwhile is missed, and
    the broker's own redeliveries (DUP flag) are not counted as messages sent twice."""

    def __init__(self, port: int, topic: str = "storelens/#", name: str = "subscriber") -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, dict[str, Any], bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"storelens-test-{name}-{port}",
            clean_session=False,
            protocol=mqtt.MQTTv311,
        )
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(self.client.is_connected, "the subscriber's connection")

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if msg.dup:  # the broker repeating to us, not a second publish
            return
        with self._lock:
            self.messages.append((msg.topic, json.loads(msg.payload), bool(msg.retain)))

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(t, p) for t, p, _ in self.messages if not t.endswith("/state")]

    def retained(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            return [(t, p) for t, p, retain in self.messages if retain]

    def states(self) -> list[dict[str, Any]]:
        with self._lock:
            return [p for t, p, _ in self.messages if t.endswith("/state")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Webhook:
    """A local HTTP receiver recording each POST's JSON body and basic-auth user."""

    def __init__(self, status: int = 200) -> None:
        self.port = free_port()
        self.status = status
        self.posts: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> Webhook:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.status < 300:
                    receiver.posts.append(json.loads(body))
                    header = self.headers.get("Authorization", "")
                    if header.startswith("Basic "):
                        receiver.auth.append(base64.b64decode(header[6:]).decode())
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
