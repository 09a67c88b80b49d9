"""Service discovery: the one file that says where a database's services listen.

There used to be two: the launcher's ``var/services.json`` (tile server, read API, store,
cameras) and the read API's ``<db>.readapi.json`` (URL and per-start secret). They could
disagree (the first followed ``STORELENS_HOME``, the second the database), and a reader had
to know which one to trust. Now the process that owns a database (it alone may open the
DuckDB file, see data/reader.py) publishes one record beside it, ``<db>.services.json``:

* ``pid``: the owning process; ``db``: the database file;
* ``read_api`` and ``secret``: the read API's URL and per-start secret (data/apiauth.py);
* ``tiles``, ``store_id``, ``cameras``: the pipeline's tile server and what it streams
  (only when the full pipeline runs, app/supervisor.py).

The file is created 0600 from its first byte (the secret in it is the API's only
credential) and replaced atomically, so a reader sees a whole record or none. Keyed by the
database rather than by ``STORELENS_HOME``, every tool that resolves the same database
(:func:`storelens.kernel.paths.default_db_path`) finds the same services.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUFFIX = ".services.json"


def discovery_path(db_path: str | Path) -> Path:
    """Where the process that owns ``db_path`` publishes its services."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + SUFFIX)


def write_private_json(path: Path, payload: Mapping[str, Any]) -> None:
    """Write ``payload`` to ``path`` with mode 0600 from the first byte (no window in which
    another account could open it), replacing any previous file atomically."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(dict(payload), fh)
    os.chmod(tmp, 0o600)  # O_CREAT does not change the mode of a leftover tmp file
    tmp.replace(path)


def publish(db_path: str | Path, record: Mapping[str, Any]) -> Path:
    """Publish ``record`` (plus this ``pid`` and the ``db``) as the services of ``db_path``.

    Fields this same process published before are kept unless ``record`` replaces them
    (the read API publishes its URL and secret, a test harness then adds tiles); a record
    left by another process (a crashed pipeline) is replaced whole.
    """
    path = discovery_path(db_path)
    previous = read_services(db_path)
    kept = previous if previous.get("pid") == os.getpid() else {}
    write_private_json(path, {**kept, **record, "pid": os.getpid(), "db": str(db_path)})
    return path


def read_services(db_path: str | Path) -> dict[str, Any]:
    """The services published for ``db_path`` ({} when none, or the file is unreadable)."""
    try:
        info = json.loads(discovery_path(db_path).read_text())
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def unpublish(db_path: str | Path, pid: int | None = None) -> None:
    """Remove the record of ``db_path``; with ``pid``, only if that process published it
    (a restarted pipeline may already have replaced it)."""
    path = discovery_path(db_path)
    try:
        if pid is not None and read_services(db_path).get("pid") != pid:
            return
        path.unlink(missing_ok=True)
    except OSError:
        pass
