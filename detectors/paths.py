"""Where runtime files live: never inside the source folders.

``STORELENS_HOME`` wins; otherwise ``var/`` beside pyproject.toml for a source
checkout (git-ignored), else the user's cache directory for an installed copy.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def storelens_home() -> Path:
    env = os.environ.get("STORELENS_HOME")
    if env:
        home = Path(env)
    elif (PROJECT_ROOT / "pyproject.toml").is_file():
        home = PROJECT_ROOT / "var"
    else:
        home = Path(platformdirs.user_cache_dir("storelens"))
    home.mkdir(parents=True, exist_ok=True)
    return home


def model_cache_dir() -> Path:
    path = storelens_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_dir() -> Path:
    """The team's shared folder beside the checkout (real footage and small models)."""
    return Path(os.environ.get("STORELENS_SHARED_DIR", PROJECT_ROOT.parent / "shared"))
