"""Where runtime files live: never inside the source folders.

``STORELENS_HOME`` wins; otherwise ``var/`` beside pyproject.toml for a source
checkout (git-ignored), else the user's cache directory for an installed copy.

The default database is defined here once, inside that home. It used to be computed in
three places, and two of them used a cwd-relative ``var/storelens.duckdb`` that ignored
``STORELENS_HOME``: with it set, ``storelens kpi`` and ``storelens up`` opened different
files (tests/test_kernel.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "storelens.duckdb"


def storelens_home() -> Path:
    """The folder for every runtime file (database, secrets, saved config, model cache)."""
    env = os.environ.get("STORELENS_HOME")
    if env:
        home = Path(env)
    elif (PROJECT_ROOT / "pyproject.toml").is_file():
        home = PROJECT_ROOT / "var"
    else:
        home = Path(platformdirs.user_cache_dir("storelens"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_db_path() -> Path:
    """``STORELENS_DB`` if set, else ``storelens.duckdb`` in :func:`storelens_home`.

    Every command and page that takes ``--db`` falls back to this one function.
    """
    env = os.environ.get("STORELENS_DB")
    return Path(env) if env else storelens_home() / DB_NAME


def model_cache_dir() -> Path:
    """Downloaded or copied model files (checked by SHA-256 before use)."""
    path = storelens_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_export_dir() -> Path:
    """Models exported for a backend (OpenVINO / ONNX), cached per model hash and size."""
    return model_cache_dir() / "exports"


def shared_dir() -> Path:
    """The team's shared folder beside the checkout (real footage and small models)."""
    return Path(os.environ.get("STORELENS_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
