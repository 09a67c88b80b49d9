"""Issue 18, item 10: ``storelens lake demo-s3`` starts its dashboard as ``storelens up``
does: dashboard/asgi.py (the session routes), bound to 127.0.0.1 in demo mode.

It used to run dashboard/app.py on every interface, so anyone on the network saw every
store without signing in. The test runs the real command (SeaweedFS, publishing, Streamlit)
and reads the dashboard process's own command line and listening sockets.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from storelens.data.objectstore import weed_binary

from tests.dashboard.harness import REPO, free_port

pytestmark = pytest.mark.slow  # SeaweedFS + publishing + Streamlit: ~30 s


def _non_loopback_ipv4() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return None


def _health(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=3) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


def _streamlit_child(parent: psutil.Process) -> psutil.Process | None:
    for child in parent.children(recursive=True):
        try:
            if "streamlit" in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def test_demo_s3_runs_asgi_on_loopback(chain_db: Path, tmp_path: Path) -> None:
    try:
        weed_binary()
    except Exception as exc:
        pytest.skip(f"SeaweedFS not installed ({exc})")
    port = free_port()
    home = tmp_path / "home"
    env = {
        **os.environ,
        "STORELENS_HOME": str(home),
        "STORELENS_DEMO": "1",  # demo mode: no sign-in, every store
        "HOME": str(tmp_path),  # no ~/.streamlit/secrets.toml of the machine's user
    }
    for name in ("STORELENS_LAKE", "STORELENS_READ_API", "STORELENS_DB"):
        env.pop(name, None)
    log_path = tmp_path / "demo-s3.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    argv = [sys.executable, "-m", "storelens.app.cli", "lake", "demo-s3"]
    argv += ["--db", str(chain_db), "--port", str(port), "--data-dir", str(tmp_path / "weed")]
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while not _health("127.0.0.1", port):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        dashboard = _streamlit_child(psutil.Process(proc.pid))
        assert dashboard is not None, "no Streamlit process under demo-s3"
        cmdline = dashboard.cmdline()
        # the entry `storelens up` runs: app.py wrapped with the session routes
        assert cmdline[cmdline.index("run") + 1] == str(REPO / "dashboard" / "asgi.py"), cmdline
        assert cmdline[cmdline.index("--server.address") + 1] == "127.0.0.1", cmdline
        listening = {
            c.laddr.ip
            for c in dashboard.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening == {"127.0.0.1"}, listening
        other = _non_loopback_ipv4()
        if other is not None:
            assert not _health(other, port), f"demo mode answered on {other}:{port}"
        # asgi.py's own route answers (app.py alone has no /session/start)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/session/start", data=b"{}", method="POST"
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403  # cross-origin refused: the route is there
        assert "demo mode without sign-in: listening on 127.0.0.1 only" in log_path.read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
