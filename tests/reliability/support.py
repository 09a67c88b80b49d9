"""Helpers shared by the fault, security and privacy tests, imported as
``tests.reliability.support`` (the repository root is on pytest's path).

Real parts only: the real person detector, real `storelens pipeline` subprocesses against a
tmp database, a real DuckDB file. The only fakes are *injected faults*, each named so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from storelens.kernel.discovery import discovery_path, read_services

REPO = Path(__file__).resolve().parents[2]
DETECTORS_CONFTEST = REPO / "tests" / "detectors" / "conftest.py"

# ----------------------------------------------------------------------------- fixtures reuse


def detectors_fixtures() -> ModuleType:
    """tests/detectors/conftest.py as a module (its RTSP server, footage and wait helpers)."""
    name = "storelens_detectors_fixtures"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DETECTORS_CONFTEST)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the file runs
        spec.loader.exec_module(module)
    return sys.modules[name]


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll until true or ``timeout`` s pass: a bound on waiting, never a timing assertion."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ----------------------------------------------------------------------------- fault table


@dataclass
class FaultResult:
    fault: str
    recovery_s: float | None
    rows_lost: str
    note: str = ""


FAULT_RESULTS: list[FaultResult] = []


@pytest.fixture
def fault_record() -> Callable[..., None]:
    """Record one fault's measured recovery time and rows lost (printed at session end)."""

    def record(fault: str, recovery_s: float | None, rows_lost: object, note: str = "") -> None:
        result = FaultResult(fault, recovery_s, str(rows_lost), note)
        FAULT_RESULTS.append(result)
        rec = "-" if recovery_s is None else f"{recovery_s:.2f} s"
        print(f"FAULT {fault}: recovery {rec}, rows lost {rows_lost}. {note}")

    return record


def print_fault_table() -> list[str]:
    lines = [
        "fault matrix: measured recovery and loss",
        f"{'fault':58} {'recovery':>10}  {'rows lost':24} note",
    ]
    for r in FAULT_RESULTS:
        rec = "-" if r.recovery_s is None else f"{r.recovery_s:.2f} s"
        lines.append(f"{r.fault:58} {rec:>10}  {r.rows_lost:24} {r.note}")
    return lines


# ----------------------------------------------------------------------------- models


@pytest.fixture(scope="session")
def person_detector() -> Any:
    """The real YOLO person detector (OpenVINO, 320 px: fault tests need speed, not recall)."""
    from storelens.detectors.persons import PersonDetector

    return PersonDetector("openvino", 320)


class FaultyPersonDetector:
    """INJECTED FAULT: wraps the real person detector; raises on the calls in ``raise_on``
    and hangs (until ``release`` is set) on the calls in ``hang_on``. Every other call goes
    to the real model."""

    def __init__(
        self, real: Any, raise_on: set[int] = frozenset(), hang_on: set[int] = frozenset()
    ):
        self.real = real
        self.raise_on, self.hang_on = set(raise_on), set(hang_on)
        self.release = threading.Event()
        self.calls = 0
        self.hang_started: float | None = None
        self.raised_at: float | None = None
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray) -> Any:
        with self._lock:
            self.calls += 1
            call = self.calls
        if call in self.raise_on:
            self.raised_at = time.monotonic()
            raise RuntimeError(f"injected fault: model raises on call {call}")
        if call in self.hang_on:
            self.hang_started = time.monotonic()
            self.release.wait()  # hangs outside the real model's lock, like a stuck backend
        return self.real.detect(image)


# ----------------------------------------------------------------------------- pipeline process


def write_config(
    path: Path, cameras: list[dict[str, Any]], store_id: str = "s1", **privacy: Any
) -> Path:
    """A TOML config file for ``storelens pipeline`` (values written with json: TOML-compatible)."""
    lines = [
        "[store]",
        f'store_id = "{store_id}"',
        'name = "Fault Store"',
        'region = "Test"',
        'timezone = "UTC"',
        "",
        "[models]",
        'person_backend = "openvino"',
        "person_imgsz = 320",
        "",
    ]
    if privacy:
        lines.append("[privacy]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in privacy.items()]
        lines.append("")
    for cam in cameras:
        lines.append("[[cameras]]")
        for key, value in cam.items():
            if key == "zones":
                continue
            lines.append(f"{key} = {json.dumps(value)}")
        for zone in cam.get("zones", []):
            lines.append("[[cameras.zones]]")
            for key, value in zone.items():
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def storelens_home(tmp: Path) -> Path:
    """A private STORELENS_HOME that reuses the checkout's exported-model cache (read only
    by the app: exporting again in every test would cost tens of seconds)."""
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    cache = REPO / "var" / "models"
    if cache.is_dir() and not (home / "models").exists():
        (home / "models").symlink_to(cache, target_is_directory=True)
    return home


@dataclass
class PipelineProcess:
    """A real `storelens pipeline` subprocess (its own process group, so kill -9 is exact)."""

    config: Path
    db: Path
    home: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: list[float] = field(default_factory=list)

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "storelens.app.cli",
            "pipeline",
            "--config",
            str(self.config),
            "--db",
            str(self.db),
            "--tile-port",
            "0",
            "--api-port",
            "0",
        ]

    def env(self) -> dict[str, str]:
        return dict(
            os.environ,
            STORELENS_HOME=str(self.home),
            STORELENS_STREAM_SECRET="fault-test-secret",
            YOLO_OFFLINE="1",
            PYTHONUNBUFFERED="1",
        )

    def start(self) -> PipelineProcess:
        discovery_path(self.db).unlink(missing_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv(),
            cwd=REPO,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.starts.append(time.monotonic())
        return self

    def services(self) -> dict[str, Any]:
        info = read_services(self.db)
        return info if self.proc is not None and info.get("pid") == self.proc.pid else {}

    def wait_ready(self, timeout: float = 180) -> dict[str, Any]:
        ok = wait_until(lambda: bool(self.services()) or self.proc.poll() is not None, timeout, 0.2)
        assert ok and self.services(), f"pipeline did not come up:\n{self.log_tail()}"
        return self.services()

    def health(self) -> dict[str, Any]:
        services = self.services()
        if not services.get("read_api"):
            return {}
        from storelens.data.errors import DataError
        from storelens.data.reader import ApiReader, published_secret

        secret = published_secret(services.get("db", ""))
        try:
            return ApiReader(services["read_api"], 5.0, secret).health()
        except DataError:
            return {}

    def committed_batches(self) -> int:
        return int(self.health().get("writer", {}).get("batches_committed", 0))

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@pytest.fixture
def pipeline_process(tmp_path: Path) -> Iterator[Callable[..., PipelineProcess]]:
    made: list[PipelineProcess] = []

    def make(config: Path, db: Path | None = None) -> PipelineProcess:
        home = storelens_home(tmp_path)
        proc = PipelineProcess(
            config, db or tmp_path / "store.duckdb", home, tmp_path / "pipeline.log"
        )
        made.append(proc)
        return proc

    yield make
    for p in made:
        p.terminate(timeout=20)


def table_counts(db: Path, tables: list[str]) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in tables}
    finally:
        con.close()


# ----------------------------------------------------------------------------- a real short run

SECRET_PASSWORD = "Hunter2-Secret"
SECRET_TOKEN = "TokSecret99"
STAFF_POLYGON = [[0, 0], [479, 0], [479, 269], [0, 269]]  # the whole 480x270 frame
TILE_SECRET = "fault-test-secret"


@dataclass
class PipelineRun:
    """What one real short `storelens pipeline` run left behind, for privacy/secret scans."""

    home: Path
    db: Path
    log_text: str
    status_json: str
    services_json: str
    tiles: dict[str, bytes]  # (camera) -> tile JPEG fetched with a no-faces token
    secret_url: str
    returncode: int | None


_RUNS: dict[str, PipelineRun] = {}


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def short_pipeline_run(tmp_root: Path, media: Path) -> PipelineRun:
    """Run the real pipeline once per session (memoised): three cameras, ~a minute.

    * ``face-open``: close-up faces, no zones (expressions are read here: the control);
    * ``face-staff``: the same clip inside a staff zone covering the whole frame;
    * ``cam-secret``: an RTSP camera with a password and a token in its URL, on a closed port.
    """
    if "run" in _RUNS:
        return _RUNS["run"]
    from storelens.kernel.tile_tokens import sign_stream_token

    clip = media / "head-pose-face-detection-female-and-male.gif"
    secret_url = (
        f"rtsp://admin:{SECRET_PASSWORD}@127.0.0.1:{_closed_port()}/live?token={SECRET_TOKEN}"
    )
    root = tmp_root
    config = write_config(
        root / "store.toml",
        [
            {"camera_id": "face-open", "name": "Faces open", "source": str(clip)},
            {
                "camera_id": "face-staff",
                "name": "Counter",
                "source": str(clip),
                "zones": [{"name": "behind counter", "kind": "staff", "polygon": STAFF_POLYGON}],
            },
            {"camera_id": "cam-secret", "name": "Door", "source": secret_url},
        ],
    )
    home = storelens_home(root)
    proc = PipelineProcess(config, root / "store.duckdb", home, root / "pipeline.log")
    proc.start()
    tiles: dict[str, bytes] = {}
    status_json = services_json = ""
    try:
        info = proc.wait_ready()
        services_json = discovery_path(proc.db).read_text()

        def expressions_read() -> int:
            try:
                import polars as pl
                from storelens.data.reader import ApiReader, published_secret

                api = ApiReader(info["read_api"], secret=published_secret(info["db"]))
                sizes = api.query("table_sizes", {})
                return int(sizes.filter(pl.col("table") == "expressions")["rows"].sum())
            except Exception:
                return 0

        wait_until(lambda: expressions_read() >= 5, 150, 1.0)
        wait_until(lambda: proc.committed_batches() >= 10, 60, 0.5)
        for cam in ("face-open", "face-staff"):
            token = sign_stream_token(TILE_SECRET.encode(), cam)
            with urllib.request.urlopen(
                f"{info['tiles']}/frame/{cam}.jpg?token={token}", timeout=10
            ) as r:
                tiles[cam] = r.read()
        from storelens.kernel.tile_tokens import status_url

        with urllib.request.urlopen(
            status_url(info["tiles"], TILE_SECRET.encode()), timeout=10
        ) as r:
            status_json = r.read().decode()
    finally:
        code = proc.terminate(timeout=90)
    run = PipelineRun(
        home, proc.db, proc.log_tail(10**7), status_json, services_json, tiles, secret_url, code
    )
    _RUNS["run"] = run
    return run
