"""What ships: the installed ``storelens`` packages hold product code only (issue 13 item 5).

The browser harness (Streamlit server and synthetic tile server for browser tests and
benchmarks) used to live in dashboard/testing.py and so was installed with the product;
it is tests/dashboard/harness.py now. These checks keep test code from creeping back.
"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _product_modules() -> list[Path]:
    setup = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {REPO / folder for folder in setup["package-dir"].values()}
    return sorted(path for folder in folders for path in folder.rglob("*.py"))


def test_the_browser_harness_is_not_installed() -> None:
    assert importlib.util.find_spec("storelens.dashboard.testing") is None
    assert not (REPO / "dashboard" / "testing.py").exists()
    assert importlib.util.find_spec("tests.dashboard.harness") is not None


def test_no_product_module_imports_test_code() -> None:
    modules = _product_modules()
    assert len(modules) > 50
    offenders = []
    for path in modules:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            offenders += [
                f"{path.relative_to(REPO)}: {name}"
                for name in names
                if name.split(".")[0] in {"tests", "playwright", "pytest"}
            ]
    assert not offenders
