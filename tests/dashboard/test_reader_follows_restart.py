"""A restarted pipeline is read again at once (issue 18, item 1).

Each start of the read API draws a new secret into ``<db>.services.json``. The dashboard
used to keep the first one until the whole ``storelens up`` restarted, so after a crash or
``kill -9`` of the pipeline every page said "credential signature does not match".

Real parts only: the read API runs in a child process on a real DuckDB file
(tests/data/api_child.py, which keeps writing), is killed with SIGKILL and started again
(on the same port, the old fixed-port case, or on a new free one), and the dashboard's own
client (``dashboard.services.get_reader`` acting for a signed-in store manager) reads
before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from storelens.dashboard import services
from storelens.data.apiauth import Caller
from storelens.data.reader import as_caller, published_secret

CHILD = Path(__file__).resolve().parents[1] / "data" / "api_child.py"
MANAGER = Caller("maria", "store_manager", store="s1")
SINCE = {"stores": ["s1"], "since": datetime.now(UTC) - timedelta(days=1)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_api(db: Path, port: int) -> tuple[subprocess.Popen, str]:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db), str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    line = child.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("ready "), line
    return child, line.split()[1]


@pytest.mark.parametrize("same_port", [True, False], ids=["same-port", "new-free-port"])
def test_the_dashboard_reads_a_restarted_read_api_within_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, same_port: bool
) -> None:
    db = tmp_path / "live.duckdb"
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("STORELENS_DB", str(db))
    monkeypatch.delenv("STORELENS_READ_API", raising=False)
    port = free_port() if same_port else 0
    first, first_url = start_api(db, port)
    second = None
    try:
        held = as_caller(services.get_reader(), MANAGER)  # a page's reader, kept by a session
        assert held.query("alerts", SINCE)["detail"].to_list() == ["queue wait over 4 min"]
        old_secret = published_secret(db)

        first.kill()  # kill -9: no clean shutdown, the old discovery file stays behind
        first.wait(30)
        second, second_url = start_api(db, port)
        restarted = time.monotonic()
        assert published_secret(db) != old_secret
        assert (second_url == first_url) is same_port
        services.clear_query_cache()  # the page's next run after the 2 s live TTL

        # The next page run, and the reader a session still holds: both read at once,
        # with no "credential signature does not match" in between.
        fresh = as_caller(services.get_reader(), MANAGER)
        assert fresh.query("alerts", SINCE).height == 1
        held.cache.clear()  # its own cache when the URL changed (a new reader above)
        assert held.query("alerts", SINCE).height == 1
        assert time.monotonic() - restarted < 10
    finally:
        for child in (first, second):
            if child is not None and child.poll() is None:
                child.kill()
                child.wait(30)
        services._reader_for.clear()  # st.cache_resource: do not leak this db's reader


def test_a_refused_request_rereads_discovery_once_a_wrong_secret_stays_refused(
    tmp_path: Path, monkeypatch
) -> None:
    """Following discovery is no way around the credential: a secret that does not match
    and a file that does not change give the same refusal as before, after one try."""
    from storelens.data.errors import Unauthenticated
    from storelens.data.reader import ApiReader

    db = tmp_path / "live.duckdb"
    child, url = start_api(db, 0)
    try:
        reader = ApiReader(url, secret=b"x" * 32, db_path=db)
        reader._endpoint.secret = b"x" * 32  # as if it had read an older file: stale
        reader._endpoint._stamp = reader._endpoint._file_stamp()
        assert reader.query("stores", {})["store_id"].to_list() == ["s1"]  # reloaded once
        wrong = ApiReader(url, secret=b"y" * 32)  # no discovery to follow
        with pytest.raises(Unauthenticated):
            wrong.query("stores", {})
    finally:
        child.kill()
        child.wait(30)
