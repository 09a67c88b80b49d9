"""Fixtures for the fault matrix (issue 6). Every test here is marked ``fault``.

Reuses the detectors room's real RTSP server and footage fixtures (loaded from
tests/detectors/conftest.py by path: the test folders are not packages), adds a shared
real person detector, and collects each fault's measured recovery time and rows lost
into a table printed at the end of the session.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_SUPPORT = Path(__file__).with_name("support.py")
if "storelens_fault_support" not in sys.modules:
    import importlib.util

    _spec = importlib.util.spec_from_file_location("storelens_fault_support", _SUPPORT)
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["storelens_fault_support"] = _module
    _spec.loader.exec_module(_module)

from storelens_fault_support import (  # noqa: E402
    FAULT_RESULTS,
    detectors_fixtures,
    fault_record,
    person_detector,
    pipeline_process,
    print_fault_table,
)

_det = detectors_fixtures()
media_dir = _det.media_dir
store_gif = _det.store_gif
rtsp_server_factory = _det.rtsp_server_factory

__all__ = [
    "fault_record",
    "media_dir",
    "person_detector",
    "pipeline_process",
    "rtsp_server_factory",
    "store_gif",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FAULT_RESULTS:
        terminalreporter.write_line("")
        for line in print_fault_table():
            terminalreporter.write_line(line)
