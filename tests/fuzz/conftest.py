"""Fuzz session summary: how many hypothesis cases each parser property ran."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # The test module's name depends on pytest's import mode: find it by its counter.
    cases = next(
        (m.FUZZ_CASES for m in list(sys.modules.values()) if hasattr(m, "FUZZ_CASES")), None
    )
    if cases:
        terminalreporter.write_line("fuzz cases (hypothesis examples run):")
        for name, count in sorted(cases.items()):
            terminalreporter.write_line(f"  {name:32} {count}")
