"""Where runtime files live: never inside the source folders.

``STORELENS_HOME`` wins; otherwise ``var/`` beside pyproject.toml for a source
checkout (git-ignored), else the user's cache directory for an installed copy.

The default database is defined here once, inside that home. It used to be computed in
three places, and two of them used a cwd-relative ``var/storelens.duckdb`` that ignored
``STORELENS_HOME``: with it set, ``storelens kpi`` and ``storelens up`` opened different
files (tests/test_kernel.py).

Runtime files are private (issue 18, item 6): the database holds every store's sales and
who watched which camera, ``store.toml`` camera credentials, the discovery file the read
API's secret. So the home is 0700, and a process that writes runtime files creates them
0600 (:func:`private_umask`: DuckDB creates the database and its WAL itself, with the
process umask, so no per-file ``open`` mode could cover the WAL). At start,
:func:`check_private` tightens what is too open, or refuses, naming the path and the fix.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

import platformdirs
from storelens.kernel.discovery import discovery_path
from storelens.kernel.errors import StoreLensError

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DB_NAME = "storelens.duckdb"
PRIVATE_UMASK = 0o077


class UnsafePermissions(StoreLensError):
    """A runtime file or folder other accounts could read, which StoreLens cannot tighten."""


def private_umask() -> None:
    """From now on this process creates files 0600 and folders 0700 (process-wide, and
    inherited by its children): called by every StoreLens entry point that writes runtime
    files (the CLI, the pipeline, a writable database open)."""
    old = os.umask(PRIVATE_UMASK)
    os.umask(old | PRIVATE_UMASK)


def check_private(paths: Iterable[str | Path]) -> list[Path]:
    """Make each existing path private (folders 0700, files 0600); returns those tightened.

    A path another account owns, or a shared sticky folder such as /tmp (chmod would lock
    its other users out), is refused with :class:`UnsafePermissions` naming it and the fix.
    """
    fixed = []
    for path in map(Path, paths):
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(info.st_mode)
        if not mode & 0o077:
            continue
        is_dir = stat.S_ISDIR(info.st_mode)
        want = 0o700 if is_dir else 0o600
        fix = f"chmod {want:o} {path}" + ("" if is_dir else " (or delete it)")
        if is_dir and mode & stat.S_ISVTX:
            raise UnsafePermissions(
                f"{path} is a shared folder (mode {mode:o}) and cannot hold StoreLens's "
                "runtime files: point STORELENS_HOME at a folder of its own"
            )
        if info.st_uid != os.geteuid():
            raise UnsafePermissions(
                f"{path} is readable by other accounts (mode {mode:o}) and owned by another "
                f"account, so StoreLens cannot tighten it: {fix}"
            )
        try:
            os.chmod(path, want)
        except OSError as exc:
            raise UnsafePermissions(
                f"{path} is readable by other accounts (mode {mode:o}) and could not be "
                f"tightened ({exc}): {fix}"
            ) from exc
        log.warning("%s was mode %o, readable by other accounts; now %o", path, mode, want)
        fixed.append(path)
    return fixed


def storelens_home() -> Path:
    """The folder for every runtime file (database, secrets, saved config, model cache)."""
    env = os.environ.get("STORELENS_HOME")
    if env:
        home = Path(env)
    elif (PROJECT_ROOT / "pyproject.toml").is_file():
        home = PROJECT_ROOT / "var"
    else:
        home = Path(platformdirs.user_cache_dir("storelens"))
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    check_private([home])  # a stat when it is already private
    return home


def default_db_path() -> Path:
    """``STORELENS_DB`` if set, else ``storelens.duckdb`` in :func:`storelens_home`.

    Every command and page that takes ``--db`` falls back to this one function.
    """
    env = os.environ.get("STORELENS_DB")
    return Path(env) if env else storelens_home() / DB_NAME


def runtime_files(db_path: str | Path) -> list[Path]:
    """The files beside a database and in the home that must stay private: the database,
    its WAL, the discovery file, the saved config and the secrets."""
    db_path = Path(db_path)
    home = storelens_home()
    return [
        home,
        db_path,
        db_path.with_name(db_path.name + ".wal"),
        discovery_path(db_path),
        home / "store.toml",
        home / "session.secret",
        home / "sessions.revoked",
        home / "stream.secret",
    ]


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
