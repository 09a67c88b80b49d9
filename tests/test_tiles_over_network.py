"""Issue 18, item 2: a manager signed in from another machine (a tablet) sees live tiles.

The dashboard with sign-in listens on every interface, but the tile server used to listen
on 127.0.0.1 only, so every tile of a tablet said "waiting for the camera…". Now the tile
server listens wherever the dashboard does (``up --host``; every interface by default with
sign-in, loopback by default in demo mode) and the page builds tile URLs on the host the
browser reached the dashboard by.

The real ``storelens up`` runs (pipeline with a GIF camera, Streamlit); the test acts as
the tablet from this machine's non-loopback address: the host it types, the tile URL the
page builds for that host (dashboard/tiles.py, as the Live page calls it), the frames.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from storelens.dashboard.auth import hash_password
from storelens.dashboard.tiles import browser_tile_base, stream_url
from storelens.kernel.discovery import read_services
from storelens.kernel.tile_tokens import sign_stream_token

from tests.dashboard.harness import free_port

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))
SECRET = "tile-network-secret"

pytestmark = pytest.mark.slow  # a real `storelens up`: pipeline with models + Streamlit


def non_loopback_ipv4() -> str | None:
    """This machine's address as another machine on the network would dial it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # TEST-NET: nothing is sent, a route is chosen
            address = sock.getsockname()[0]
            if not address.startswith("127."):
                return address
        except OSError:
            pass
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return None


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status == 200
    except OSError:
        return False


def _child(parent: psutil.Process, word: str) -> psutil.Process:
    for child in parent.children(recursive=True):
        try:
            if word in child.cmdline():
                return child
        except psutil.NoSuchProcess:
            continue
    raise AssertionError(f"no {word} process under storelens up")


def _listening(proc: psutil.Process, port: int) -> set[str]:
    return {
        c.laddr.ip
        for c in proc.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port == port
    }


def _first_jpeg(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=20) as response:
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        data = b""
        while b"\xff\xd9" not in data[data.find(b"\xff\xd8") :] or b"\xff\xd8" not in data:
            chunk = response.read1(65536)
            assert chunk, "the stream ended before a frame"
            data += chunk
    start = data.index(b"\xff\xd8")
    return data[start : data.index(b"\xff\xd9", start) + 2]


@pytest.mark.parametrize("mode", ["sign_in", "demo"])
def test_a_tablet_gets_live_tiles(tmp_path: Path, shared_media: Path, mode: str) -> None:
    tablet_host = non_loopback_ipv4()
    if tablet_host is None:
        pytest.skip("this machine has no non-loopback IPv4 address to act as a tablet from")
    config = tmp_path / "store.toml"
    config.write_text(
        '[store]\nstore_id = "t1"\n[[cameras]]\ncamera_id = "cam-a"\nname = "Aisle"\n'
        f'source = "{shared_media / "store-aisle-detection.gif"}"\n'
    )
    home, db = tmp_path / "home", tmp_path / "live.duckdb"
    env = {
        **os.environ,
        "HOME": str(tmp_path),  # Streamlit's ~/.streamlit: only what this test writes
        "STORELENS_HOME": str(home),
        "STORELENS_STREAM_SECRET": SECRET,
    }
    for name in ("STORELENS_DB", "STORELENS_LAKE", "STORELENS_READ_API", "STORELENS_DEMO"):
        env.pop(name, None)
    if mode == "sign_in":  # a store as it runs on its network: sign-in, no --host
        secrets = tmp_path / ".streamlit" / "secrets.toml"
        secrets.parent.mkdir()
        secrets.write_text(
            f'[users.mia]\nrole = "store_manager"\nstore = "t1"\n'
            f'password_hash = "{hash_password("pw-of-mia")}"\n'
        )
    else:
        env["STORELENS_DEMO"] = "1"  # demo mode without --host: loopback only, tiles too
    port = free_port()
    log_path = tmp_path / "up.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed below
    argv = [STORELENS, "up", "--config", str(config), "--db", str(db), "--port", str(port)]
    proc = subprocess.Popen([*argv, "--no-seed"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while "tiles" not in read_services(db) or not _answers(
            f"http://127.0.0.1:{port}/_stcore/health"
        ):
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.5)
        up = psutil.Process(proc.pid)
        pipeline, dashboard = _child(up, "pipeline"), _child(up, "streamlit")
        published = read_services(db)["tiles"]  # how this machine's processes reach it
        tile_port = int(published.rsplit(":", 1)[1])
        token = sign_stream_token(SECRET.encode(), "cam-a", ttl_s=60)
        if mode == "demo":
            assert _listening(pipeline, tile_port) == {"127.0.0.1"}
            assert _listening(dashboard, port) == {"127.0.0.1"}
            base = browser_tile_base(published, f"localhost:{port}")
            assert base == f"http://localhost:{tile_port}"
            assert _first_jpeg(stream_url(base, "cam-a", token) + "&fps=5")
            assert not _answers(f"http://{tablet_host}:{tile_port}/health")
            return
        cmd = pipeline.cmdline()
        assert cmd[cmd.index("--tile-host") + 1] == "0.0.0.0", cmd
        assert published.startswith("http://127.0.0.1:"), published  # dialable, not 0.0.0.0
        # The tablet: it reached the dashboard by this machine's network address...
        assert _answers(f"http://{tablet_host}:{port}/_stcore/health")
        # ...so the page builds tile URLs on that host (the browser's Host header)...
        base = browser_tile_base(published, f"{tablet_host}:{port}")
        assert base == f"http://{tablet_host}:{tile_port}"
        # ...and the stream answers there with frames.
        jpeg = _first_jpeg(stream_url(base, "cam-a", token) + "&fps=5")
        assert len(jpeg) > 1000
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.mark.parametrize(
    ("published", "host_header", "expected"),
    [
        ("http://127.0.0.1:41234", "192.168.1.20:8501", "http://192.168.1.20:41234"),
        ("http://127.0.0.1:41234", "shop-pc.local:8501", "http://shop-pc.local:41234"),
        ("http://127.0.0.1:41234", "[fe80::1]:8501", "http://[fe80::1]:41234"),
        ("http://127.0.0.1:41234", "[::1]", "http://[::1]:41234"),
        ("http://127.0.0.1:41234", "store.example", "http://store.example:41234"),
        ("http://127.0.0.1:41234", None, "http://localhost:41234"),
    ],
)
def test_tile_base_follows_the_browsers_host(published, host_header, expected) -> None:
    assert browser_tile_base(published, host_header) == expected


def test_tile_server_listens_where_the_dashboard_does() -> None:
    from storelens.app.addresses import reachable_host, tile_host_for

    assert tile_host_for("127.0.0.1") == "127.0.0.1"  # demo default: loopback stays
    assert tile_host_for(None) == "0.0.0.0"  # Streamlit's default: every interface
    assert tile_host_for("0.0.0.0") == "0.0.0.0"
    assert tile_host_for("10.1.2.3") == "10.1.2.3"
    assert reachable_host("0.0.0.0") == "127.0.0.1" and reachable_host("10.1.2.3") == "10.1.2.3"
