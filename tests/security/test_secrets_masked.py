"""Camera credentials never shown in logs, errors, status, tiles or tables (issue 6, item 3).

Masked form: ``rtsp://user:***@host`` (and ``?token=***``). Checked against a real RTSP server
that needs a password, and against everything a real short `storelens pipeline` run wrote.
"""

from __future__ import annotations

import logging
import time

import duckdb
import pytest
from storelens.detectors.errors import ConfigError, SourceError
from storelens.detectors.sources import CaptureWorker, open_source
from storelens.detectors.types import CameraState
from storelens.kernel.config import parse_config

from tests.reliability.support import SECRET_PASSWORD, SECRET_TOKEN, wait_until

SECRETS = (SECRET_PASSWORD, SECRET_TOKEN)


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret {secret[:3]}... leaked in {where}"


def test_pipeline_run_never_writes_credentials_anywhere(pipeline_run) -> None:
    _assert_clean(pipeline_run.log_text, "the pipeline's stdout/stderr")
    _assert_clean(pipeline_run.status_json, "the tile server's /status")
    _assert_clean(pipeline_run.services_json, "services.json")
    root = pipeline_run.db.parent
    for path in root.rglob("*"):
        # store.toml is the operator's own config file (input, not something the app wrote).
        if path.is_file() and not path.is_symlink() and path.name != "store.toml":
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret[:3]}... in {path}"
    con = duckdb.connect(str(pipeline_run.db), read_only=True)
    try:
        masked = con.execute(
            "SELECT source_masked FROM cameras WHERE camera_id = 'cam-secret'"
        ).fetchall()[0][0]
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                _assert_clean(" ".join(map(str, row)), f"table {table}")
    finally:
        con.close()
    assert masked.startswith("rtsp://admin:***@") and "token=***" in masked
    # The unreachable camera is reported, masked, with the fix, instead of crashing the run.
    assert "cam-secret" in pipeline_run.status_json
    assert "admin:***@" in pipeline_run.status_json
    assert pipeline_run.returncode == 0


def test_capture_logs_and_status_mask_a_wrong_password(
    rtsp_server_factory, caplog: pytest.LogCaptureFixture
) -> None:
    server = rtsp_server_factory("--user", "admin", "--password", "right-one")
    url = (
        server.url.replace("rtsp://", f"rtsp://admin:{SECRET_PASSWORD}@") + f"?token={SECRET_TOKEN}"
    )
    caplog.set_level(logging.DEBUG)
    worker = CaptureWorker(
        "door",
        "Door",
        url,
        open_timeout_s=2,
        read_timeout_s=2,
        backoff_initial_s=0.2,
        backoff_max_s=0.5,
        offline_after_s=1,
    ).start()
    try:
        assert wait_until(lambda: worker.connect_attempts >= 3, 60)
        assert worker.status().state is not CameraState.ONLINE  # the password is wrong
    finally:
        worker.stop(timeout=15)
    status = worker.status()
    _assert_clean(caplog.text, "log records")
    _assert_clean(repr(status), "CameraStatus")
    _assert_clean(str(status.as_dict(time.time())), "CameraStatus.as_dict")
    assert "admin:***@" in (status.last_error or "") and "admin:***@" in caplog.text


@pytest.mark.parametrize(
    "spec",
    [
        f"rtsp://admin:{SECRET_PASSWORD}@127.0.0.1:9/live?token={SECRET_TOKEN}",
        f"http://admin:{SECRET_PASSWORD}@127.0.0.1:9/mjpg?token={SECRET_TOKEN}",
        f"gopher://admin:{SECRET_PASSWORD}@cam/x?token={SECRET_TOKEN}",
    ],
)
def test_source_errors_mask_credentials(spec: str) -> None:
    with pytest.raises(SourceError) as info:
        open_source(spec, open_timeout_s=1, read_timeout_s=1)
    _assert_clean(str(info.value), "SourceError")
    assert "admin:***@" in str(info.value)


def test_config_errors_about_other_fields_do_not_echo_credentials() -> None:
    camera = {
        "camera_id": "door",
        "name": "Door",
        "source": f"rtsp://admin:{SECRET_PASSWORD}@cam/live",
        "role": "lobby",
    }
    with pytest.raises(ConfigError) as info:
        parse_config({"cameras": [camera]}, "store.toml")
    _assert_clean(str(info.value), "ConfigError")


def test_config_error_for_a_missing_field_does_not_echo_the_camera_password() -> None:
    camera = {"camera_id": "door", "source": f"rtsp://admin:{SECRET_PASSWORD}@cam/live"}
    with pytest.raises(ConfigError) as info:
        parse_config({"cameras": [camera]}, "store.toml")
    assert "cameras[0].name" in str(info.value)
    _assert_clean(str(info.value), "ConfigError")
