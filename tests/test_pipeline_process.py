"""The pipeline as a real process: it publishes its servers, serves tiles and named queries,
and a SIGTERM flushes every row it holds before it exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
from storelens.kernel.discovery import discovery_path, read_services


def test_sigterm_flushes_the_sink(tmp_path: Path, shared_media: Path) -> None:
    config = tmp_path / "store.toml"
    config.write_text(
        f"""
[store]
store_id = "t1"
[[cameras]]
camera_id = "cam-a"
name = "Aisle"
source = "{shared_media / "store-aisle-detection.gif"}"
"""
    )
    home, db = tmp_path / "home", tmp_path / "live.duckdb"
    env = dict(os.environ, STORELENS_HOME=str(home), STORELENS_STREAM_SECRET="s3cret")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "storelens.app.cli",
            "pipeline",
            "--config",
            str(config),
            "--db",
            str(db),
            "--tile-port",
            "0",
            "--api-port",
            "0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    services_file = discovery_path(db)
    try:
        deadline = time.monotonic() + 180
        while not services_file.exists() and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        services = read_services(db)
        assert services["cameras"] == [{"camera_id": "cam-a", "name": "Aisle"}]
        from storelens.data.reader import ApiReader, published_secret

        api = ApiReader(services["read_api"], secret=published_secret(services["db"]))
        assert api.health()["ok"] is True  # signed with the API's per-start secret
        # Let it analyse for a while, then ask it to stop.
        from storelens.kernel.tile_tokens import status_url as signed_status_url

        status_url = signed_status_url(services["tiles"], b"s3cret")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with urllib.request.urlopen(status_url, timeout=10) as r:
                status = json.loads(r.read())
            if status.get("cam-a", {}).get("analysed_fps", 0) > 0:
                break
            time.sleep(1)
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not services_file.exists(), "a clean exit withdraws the published addresses"
    con = duckdb.connect(str(db), read_only=True)
    detections, tracks = con.sql(
        "SELECT (SELECT count(*) FROM detections WHERE camera_id = 'cam-a'),"
        " (SELECT count(*) FROM tracks WHERE camera_id = 'cam-a')"
    ).fetchall()[0]
    store = con.sql("SELECT store_id FROM cameras WHERE camera_id = 'cam-a'").fetchall()
    con.close()
    assert detections > 0
    assert tracks > 0, "open tracks are closed and written on shutdown"
    assert store == [("t1",)]
