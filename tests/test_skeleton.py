"""End to end through all three rooms: a real clip → YOLO + ByteTrack → DuckDB in batches →
the chart's named query reads the rows back; and the tile server streams annotated JPEGs."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.data.reader import LocalReader
from storelens.data.writer import Writer
from storelens.detectors.hub import FrameHub
from storelens.detectors.runner import Runner
from storelens.detectors.shared_models import PipelineOptions
from storelens.detectors.stream import TileServer
from storelens.kernel.config import CameraConfig, LineConfig, StoreLensConfig
from storelens.kernel.tile_tokens import sign_stream_token


@pytest.fixture(scope="module")
def skeleton_run(shared_media: Path, tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("skeleton") / "live.duckdb"
    camera = CameraConfig(
        camera_id="cam-aisle",
        name="Aisle",
        source=str(shared_media / "store-aisle-detection.gif"),
        lines=[LineConfig(start=(0, 150), end=(479, 150))],
    )
    config = StoreLensConfig(cameras=[camera])
    writer = Writer(db)
    from storelens.app.pipeline_process import register_store

    register_store(writer, config)
    hub = FrameHub()
    secret = b"test-secret"
    server = TileServer(hub, port=0, secret=secret).start()
    runner = Runner(
        config, writer, hub, PipelineOptions(faces=False, workers=1, batch_interval_s=0.5)
    )
    runner.start()
    deadline = time.monotonic() + 90
    while runner.frames_analysed["cam-aisle"] < 25 and time.monotonic() < deadline:
        time.sleep(0.2)
    port = server.server_address[1]
    token = sign_stream_token(secret, "cam-aisle")
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/frame/cam-aisle.jpg?token={token}", timeout=10
    ) as r:
        jpeg = r.read()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/frame/cam-aisle.jpg?token=bad", timeout=10)
        forbidden = False
    except urllib.error.HTTPError as exc:
        forbidden = exc.code == 403
    with urllib.request.urlopen(
        f"http://127.0.0.1:{port}/stream/cam-aisle.mjpg?token={token}", timeout=10
    ) as r:
        head = r.read(200_000)
    runner.stop()
    server.stop()
    writer.close()
    return {
        "db": db,
        "jpeg": jpeg,
        "forbidden": forbidden,
        "mjpeg": head,
        "analysed": runner.frames_analysed["cam-aisle"],
    }


def test_rows_land_in_duckdb_and_chart_query_reads_them(skeleton_run: dict) -> None:
    reader = LocalReader(skeleton_run["db"])
    frame = reader.query(
        "people_per_minute",
        {"camera_id": "cam-aisle", "since": datetime.now(UTC) - timedelta(minutes=10)},
    )
    assert frame.height >= 1
    assert frame["people"].max() >= 1  # the aisle clip always has shoppers in it
    import duckdb

    con = duckdb.connect(str(skeleton_run["db"]), read_only=True)
    rows, tracked = con.sql(
        "SELECT count(*), count(*) FILTER (WHERE track_id >= 0) FROM detections WHERE camera_id = 'cam-aisle'"
    ).fetchall()[0]
    con.close()
    assert rows >= skeleton_run["analysed"]  # ≥ one person per analysed frame in this clip
    assert tracked > 0


def test_tile_is_an_annotated_jpeg_with_boxes(skeleton_run: dict) -> None:
    image = cv2.imdecode(np.frombuffer(skeleton_run["jpeg"], np.uint8), cv2.IMREAD_COLOR)
    assert image is not None and image.shape[1] == 480
    assert skeleton_run["forbidden"], "a request without a valid token must get 403"
    assert skeleton_run["mjpeg"].count(b"--storelensframe") >= 2, (
        "the MJPEG stream sends frame after frame"
    )
