"""Fuzz session summary: how many hypothesis cases each parser property ran."""

from __future__ import annotations

import sys

import pytest


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    module = sys.modules.get("test_fuzz_parsers")
    cases = getattr(module, "CASES", None)
    if cases:
        terminalreporter.write_line("fuzz cases (hypothesis examples run):")
        for name, count in sorted(cases.items()):
            terminalreporter.write_line(f"  {name:32} {count}")
