"""Demo mode listens on 127.0.0.1 only (issue 10, item 5).

Without sign-in everyone who reaches the dashboard is an executive of every store, so
``storelens up`` binds the loopback address unless ``--host`` opts in, and says so at start.
The process test starts the dashboard exactly as the launcher does and tries it from this
machine's non-loopback address.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from storelens.app.addresses import dashboard_address, sign_in_configured
from storelens.app.supervisor import dashboard_argv
from storelens.dashboard.auth import hash_password
from typer.testing import CliRunner

from tests.dashboard.harness import REPO, free_port


@pytest.mark.parametrize(
    ("host", "signin", "address", "says"),
    [
        (None, False, "127.0.0.1", "demo mode without sign-in: listening on 127.0.0.1 only"),
        ("127.0.0.1", False, "127.0.0.1", "listening on 127.0.0.1 only"),
        ("0.0.0.0", False, "0.0.0.0", "WARNING: demo mode without sign-in on 0.0.0.0"),
        (None, True, None, "sign-in required; listening on every interface"),
        ("10.1.2.3", True, "10.1.2.3", "sign-in required; listening on 10.1.2.3"),
    ],
)
def test_address_and_message(host, signin, address, says) -> None:
    got, message = dashboard_address(host, signin)
    assert got == address
    assert says in message


def test_blank_host_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="--host must be an address"):
        dashboard_address("  ", signin=False)
    from storelens.app.cli import app

    result = CliRunner().invoke(app, ["up", "--host", ""])
    assert result.exit_code == 2
    assert "--host must be an address" in result.output


def test_argv_binds_what_it_is_given() -> None:
    argv = dashboard_argv(8501, "127.0.0.1")
    assert argv[argv.index("--server.address") + 1] == "127.0.0.1"
    assert argv[argv.index("run") + 1].endswith("dashboard/asgi.py")
    assert "--server.address" not in dashboard_argv(8501, None)


def test_sign_in_is_read_from_the_secrets_streamlit_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import storelens.app.addresses as addresses

    monkeypatch.setattr(addresses, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(Path, "home", lambda: tmp_path / "nohome")
    assert sign_in_configured({}) is False  # no secrets: demo
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text(f'[users.mia]\nrole = "admin"\npassword_hash = "{hash_password("x")}"\n')
    assert sign_in_configured({}) is True
    assert sign_in_configured({"STORELENS_DEMO": "1"}) is False  # forced demo
    secrets.write_text("[users.mia\n")  # broken file: never fall back to an open demo
    assert sign_in_configured({}) is True


def _non_loopback_ipv4() -> str | None:
    for addresses in psutil.net_if_addrs().values():
        for a in addresses:
            if a.family == socket.AF_INET and not a.address.startswith("127."):
                return a.address
    return None


def _answers(host: str, port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=3) as r:
            return r.read().strip() == b"ok"
    except OSError:
        return False


@pytest.mark.slow
def test_demo_dashboard_is_not_reachable_from_the_network(tmp_path: Path) -> None:
    other = _non_loopback_ipv4()
    if other is None:
        pytest.skip("this machine has no non-loopback IPv4 address to try from")
    address, _ = dashboard_address(None, signin=False)
    port = free_port()
    env = {**os.environ, "STORELENS_DEMO": "1", "STORELENS_HOME": str(tmp_path)}
    env["STORELENS_DB"] = str(tmp_path / "none.duckdb")
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        dashboard_argv(port, address), env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 90
        while not _answers("127.0.0.1", port):
            assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "dashboard did not start"
            time.sleep(0.5)
        assert not _answers(other, port), f"demo mode answered on {other}:{port}"
        listening = {
            c.laddr.ip
            for c in psutil.Process(proc.pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening == {"127.0.0.1"}, listening
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
