"""StoreLens installs under one namespace (``storelens.*``), so foreign packages named
``data``, ``detectors`` or ``dashboard`` cannot shadow ours, and ours cannot shadow theirs.

The foreign packages below sit first on ``PYTHONPATH`` and in the working directory (the
two places a user's own ``data/`` folder ends up on ``sys.path``). Each one raises on
import, so if StoreLens imported any of them by its bare name the command would fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from storelens.data.demo import STORES

STORELENS = shutil.which("storelens", path=str(Path(sys.executable).parent))

FOREIGN = {
    "data": "NAME = 'the user own data package'\n",
    "data/db.py": "raise RuntimeError('foreign data.db was imported')\n",
    "data/kpi.py": "raise RuntimeError('foreign data.kpi was imported')\n",
    "detectors": "raise RuntimeError('foreign detectors was imported')\n",
    "dashboard": "raise RuntimeError('foreign dashboard was imported')\n",
    "app": "raise RuntimeError('foreign app was imported')\n",
}


@pytest.fixture
def foreign_packages(tmp_path: Path) -> Path:
    root = tmp_path / "user_project"
    for rel, text in FOREIGN.items():
        path = root / rel
        target = path / "__init__.py" if path.suffix != ".py" else path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(cwd), "STORELENS_HOME": str(cwd / "home")}
    env.pop("STORELENS_DB", None)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


@pytest.mark.skipif(STORELENS is None, reason="the storelens console script is not installed")
def test_a_foreign_data_package_on_the_path_cannot_break_the_cli(foreign_packages: Path) -> None:
    db = foreign_packages / "store.duckdb"
    seeded = _run(
        [STORELENS, "demo", "seed", "--db", str(db), "--days", "3", "--stores", "1"],
        foreign_packages,
    )
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    store = STORES[0][0]
    first, last = date.today() - timedelta(days=3), date.today() - timedelta(days=1)
    period = ["--from", first.isoformat(), "--to", last.isoformat()]
    kpi = _run(
        [STORELENS, "kpi", "--db", str(db), "--json", "--store", store, *period], foreign_packages
    )
    assert kpi.returncode == 0, kpi.stderr[-2000:]
    assert "foreign" not in kpi.stdout + kpi.stderr
    assert "visitors" in kpi.stdout


def test_ours_and_theirs_import_side_by_side(foreign_packages: Path) -> None:
    probe = (
        "import data, storelens.data.kpi as kpi, storelens.kernel.config as cfg\n"
        "assert data.NAME == 'the user own data package', data.__file__\n"
        "assert kpi.__name__ == 'storelens.data.kpi'\n"
        "print('ok', data.__file__)\n"
    )
    done = _run([sys.executable, "-c", probe], foreign_packages)
    assert done.returncode == 0, done.stderr[-2000:]
    assert str(foreign_packages) in done.stdout
