"""Fixtures for the fault matrix (issue 6). Every test here is marked ``fault``.

Reuses the detectors room's real RTSP server and footage fixtures (support.py loads
tests/detectors/conftest.py by path), adds a shared
real person detector, and collects each fault's measured recovery time and rows lost
into a table printed at the end of the session.
"""

from __future__ import annotations

import pytest

from tests.reliability.support import (
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
