"""Ports (issue 18, item 3): a taken port is one line naming the port and its flag, never a
traceback or a crash loop; by default the servers take free ports and publish them.

Real sockets held open on the ports, the real ``storelens`` command in a subprocess and a
real child process under the real supervisor.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from storelens.app.pipeline_process import EXIT_REFUSED
from storelens.app.supervisor import Supervisor
from storelens.kernel.discovery import read_services

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


@contextmanager
def held_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port another program listens on for as long as the block runs."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        sock.listen()
        yield sock.getsockname()[1]


def storelens(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "STORELENS_HOME": str(tmp_path / "home")}
    env.pop("STORELENS_DB", None)
    return subprocess.run(
        [STORELENS, *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def assert_one_line_naming(out: subprocess.CompletedProcess, port: int, flag: str) -> None:
    assert out.returncode == EXIT_REFUSED, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"port {port}" in lines[0] and flag in lines[0] and "taken" in lines[0]


@pytest.mark.parametrize("flag", ["--api-port", "--tile-port"])
def test_pipeline_on_a_taken_port_says_so_in_one_line(tmp_path: Path, flag: str) -> None:
    with held_port() as port:
        out = storelens(tmp_path, "pipeline", "--db", str(tmp_path / "x.duckdb"), flag, str(port))
    assert_one_line_naming(out, port, flag)


@pytest.mark.parametrize("flag", ["--api-port", "--tile-port", "--port"])
def test_up_on_a_taken_port_refuses_before_starting_anything(tmp_path: Path, flag: str) -> None:
    db = tmp_path / "x.duckdb"
    with held_port() as port:
        out = storelens(tmp_path, "up", "--db", str(db), flag, str(port), timeout=60)
    assert_one_line_naming(out, port, flag)
    assert not db.exists(), "nothing seeded, no child started"


def test_a_child_that_refuses_to_start_is_not_restarted() -> None:
    """The supervisor restarts crashes, but a child that exits with the CLI's refusal code
    (a taken port, a bad option) would fail the same way again: no crash loop."""
    child = Supervisor([sys.executable, "-c", f"raise SystemExit({EXIT_REFUSED})"], "pipeline")
    child.start()
    child.proc.wait(30)  # type: ignore[union-attr]
    child.poll()
    assert child.refused and child.gave_up and not child.restarts

    crash = Supervisor([sys.executable, "-c", "raise SystemExit(1)"], "pipeline")
    crash.start()
    crash.proc.wait(30)  # type: ignore[union-attr]
    crash.poll()  # an ordinary crash is still restarted
    assert len(crash.restarts) == 1 and not crash.refused
    crash.proc.wait(30)  # type: ignore[union-attr]


def test_two_storelens_on_one_machine_get_free_ports_and_publish_them(tmp_path: Path) -> None:
    """The old fixed 8502/8503 made the second one crash-loop. Two real pipelines (no
    cameras, so no models to load) on two databases, both on the default ports."""
    config = tmp_path / "store.toml"
    config.write_text('[store]\nstore_id = "s1"\n')
    procs, dbs = [], [tmp_path / "a.duckdb", tmp_path / "b.duckdb"]
    env = {**os.environ, "STORELENS_HOME": str(tmp_path / "home")}
    try:
        for db in dbs:
            procs.append(
                subprocess.Popen(
                    [STORELENS, "pipeline", "--config", str(config), "--db", str(db)],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 120
        while not all("tiles" in read_services(db) for db in dbs):
            assert time.monotonic() < deadline, "the pipelines did not come up"
            for proc in procs:
                assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
            time.sleep(0.3)
        a, b = (read_services(db) for db in dbs)
        urls = {a["read_api"], a["tiles"], b["read_api"], b["tiles"]}
        assert len(urls) == 4
        assert not {":8502", ":8503"} & {u[u.rindex(":") :] for u in urls}
        for info in (a, b):  # each answers where it says it listens
            host, port = info["read_api"].removeprefix("http://").rsplit(":", 1)
            socket.create_connection((host, int(port)), timeout=5).close()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
