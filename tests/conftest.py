"""Fixtures for every room. Tests run offline: no model or data is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("STORELENS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ultralytics_assets() -> Path:
    from storelens.detectors.media import _ultralytics_assets

    assets = _ultralytics_assets()
    assert assets is not None, (
        "ultralytics is a dependency; its wheel carries bus.jpg and zidane.jpg"
    )
    return assets


@pytest.fixture(scope="session")
def shared_media() -> Path:
    from storelens.kernel.paths import shared_dir

    media = shared_dir() / "media"
    if not media.is_dir():
        pytest.skip(
            f"shared footage not found at {media}; CI always has ../shared beside the clone"
        )
    return media


# --- Shared by tests/security and tests/privacy ------------------------------------------
# One real short `storelens pipeline` run per session (session scope here, in the common
# parent, so both folders share it instead of each running its own), plus the footage,
# RTSP and detector fixtures of the fault matrix (tests/reliability/support.py; the
# repository root is on pytest's path). Nearer conftests override these names.
from tests.reliability.support import (  # noqa: E402
    PipelineRun,
    detectors_fixtures,
    person_detector,
    short_pipeline_run,
)

_det = detectors_fixtures()
media_dir = _det.media_dir
store_gif = _det.store_gif
rtsp_server_factory = _det.rtsp_server_factory

__all__ = ["media_dir", "person_detector", "pipeline_run", "rtsp_server_factory", "store_gif"]


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory, media_dir: Path) -> PipelineRun:
    """One real short `storelens pipeline` run, shared by the security and privacy tests."""
    return short_pipeline_run(tmp_path_factory.mktemp("pipeline-run"), media_dir)


# --- A clean exit ----------------------------------------------------------------------
# Seen once in five full runs on a fresh clone: every test passed, then the process died
# at interpreter shutdown with "FATAL: exception not rethrown" (exit 134). CPython 3.11
# ends a daemon thread that retakes the GIL after finalization with pthread_exit; when
# that thread is inside an OpenCV call that released the GIL, the binding's catch (...)
# swallows the forced unwind and glibc aborts. Test-made daemon threads (capture,
# display, abandoned watchdog threads) can be anywhere in OpenCV at that moment, so the
# suite's result is handed to the OS directly, after pytest has reported everything,
# and the threads still running are named so a leak stays visible.
_exit_status = 0


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    import sys
    import threading

    main = threading.main_thread()
    alive = sorted(t.name for t in threading.enumerate() if t is not main and t.is_alive())
    if alive:
        print(f"threads still running at exit ({len(alive)}): {', '.join(alive[:20])}")
    config.get_terminal_writer().flush()  # the "N passed in …" line waits in its buffer
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status)
