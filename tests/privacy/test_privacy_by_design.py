"""Privacy by design (issue 6, item 4), each against real parts.

* no pixels, face crops or embeddings are ever written: every table and every file a real
  short `storelens pipeline` run wrote is scanned;
* no expression reading inside staff zones: the same close-up faces clip runs on two
  cameras, one inside a staff zone covering the frame (zero expression rows) and one
  without (the control: expression rows exist);
* faces blurred on tiles for roles without face access: a tile from the real tile server is
  decoded and its face regions' sharpness compared with the unblurred frame;
* retention deletes expired rows on schedule (the writer's own timer, no manual call).
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import duckdb
import numpy as np
import pyarrow as pa
import pytest

from tests.reliability.support import wait_until

IMAGE_MAGIC = {
    "JPEG/JFIF": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "JPEG/Exif": b"\xff\xd8\xff\xe1",
    "PNG": b"\x89PNG\r\n\x1a\n",
    "WebP": b"WEBPVP8",
}
# The same magics as they look inside base64 text (a JPEG starts "/9j/", a PNG "iVBORw0KGgo").
BASE64_MAGIC = re.compile(rb"/9j/4AAQ|iVBORw0KGgo")
EMBEDDING_MIN_LEN = 64  # face embeddings are 128-512 floats; nothing we store is that wide


def _embedding_like(value: object) -> bool:
    if isinstance(value, (list, tuple, np.ndarray)):
        floats = [v for v in value if isinstance(v, float)]
        return len(floats) >= EMBEDDING_MIN_LEN
    if (
        isinstance(value, str)
        and value.lstrip().startswith("[")
        and len(value) > 4 * EMBEDDING_MIN_LEN
    ):
        try:
            return _embedding_like(json.loads(value))
        except ValueError:
            return False
    return False


def test_no_pixels_face_crops_or_embeddings_in_any_table(pipeline_run) -> None:
    con = duckdb.connect(str(pipeline_run.db), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        assert {"detections", "expressions", "tracks", "events"} <= set(tables)
        assert con.execute("SELECT count(*) FROM detections").fetchall()[0][0] > 0, (
            "the run wrote nothing"
        )
        blob_columns = con.execute(
            "SELECT table_name, column_name FROM duckdb_columns() WHERE data_type = 'BLOB'"
        ).fetchall()
        assert blob_columns == [], f"binary columns exist: {blob_columns}"
        findings = []
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
                for value in row:
                    if isinstance(value, (bytes, bytearray)):
                        findings.append((table, "bytes value"))
                    elif isinstance(value, str) and (
                        BASE64_MAGIC.search(value.encode()) or len(value) > 20_000
                    ):
                        findings.append((table, f"image-like text {value[:40]!r}"))
                    elif _embedding_like(value):
                        findings.append((table, "embedding-like float array"))
        assert findings == []
    finally:
        con.close()


def test_no_image_bytes_in_any_file_the_app_wrote(pipeline_run) -> None:
    root = pipeline_run.db.parent
    scanned = 0
    for path in sorted(root.rglob("*")):
        # The exported model cache is a symlink to the checkout's var/models (weights only).
        if path.is_symlink() or not path.is_file() or "models" in path.relative_to(root).parts:
            continue
        data = path.read_bytes()
        scanned += 1
        for name, magic in IMAGE_MAGIC.items():
            assert magic not in data, f"{path} contains {name} bytes"
        assert not BASE64_MAGIC.search(data), f"{path} contains base64 image data"
        assert path.suffix.lower() not in {".jpg", ".jpeg", ".png", ".webp", ".npy", ".npz"}
    assert scanned >= 3  # at least the database, its config and the log


def test_no_expression_rows_for_tracks_in_staff_zones(pipeline_run) -> None:
    con = duckdb.connect(str(pipeline_run.db), read_only=True)
    try:
        per_camera = dict(
            con.execute("SELECT camera_id, count(*) FROM expressions GROUP BY 1").fetchall()
        )
        staff_people = con.execute(
            "SELECT count(*) FROM detections WHERE camera_id = 'face-staff' AND class = 'person'"
        ).fetchall()[0][0]
        staff_tracks = con.execute(
            "SELECT count(*), count(valence) FROM tracks WHERE camera_id = 'face-staff'"
        ).fetchall()[0]
    finally:
        con.close()
    assert per_camera.get("face-open", 0) > 0, (
        "control camera read no expressions: the staff-zone check would prove nothing"
    )
    assert staff_people > 0, "nobody was detected in the staff zone"
    assert per_camera.get("face-staff", 0) == 0
    assert staff_tracks[1] == 0  # no track summary carries a valence either


def _laplacian_var(image: np.ndarray) -> float:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def test_tiles_are_blurred_for_everyone(media_dir: Path, person_detector, tmp_path: Path) -> None:
    from storelens.detectors.faces import make_face_detector
    from storelens.detectors.runner import Runner
    from storelens.detectors.shared_models import PipelineOptions, SharedModels
    from storelens.detectors.stream import TileServer
    from storelens.kernel.config import CameraConfig, StoreLensConfig
    from storelens.kernel.tile_tokens import sign_stream_token

    # One still frame of close-up faces, served as a folder camera: every tile shows it.
    cap = cv2.VideoCapture(str(media_dir / "head-pose-face-detection-female-and-male.gif"))
    for _ in range(10):
        ok, still = cap.read()
        assert ok
    cap.release()
    folder = tmp_path / "still"
    folder.mkdir()
    cv2.imwrite(str(folder / "frame.png"), still)
    face = make_face_detector("yunet")
    models = SharedModels(person=person_detector, face=face)
    config = StoreLensConfig(
        cameras=[CameraConfig(camera_id="faces", name="F", source=str(folder))]
    )
    secret = b"tile-secret"
    runner = Runner(
        config, None, options=PipelineOptions(expressions=False, workers=1), models=models
    )
    server = TileServer(runner.hub, port=0, secret=secret).start()
    runner.start()
    try:
        assert wait_until(lambda: runner.frames_analysed["faces"] >= 3, 120)
        token = sign_stream_token(secret, "faces")  # the only kind of tile token there is
        url = f"http://127.0.0.1:{server.server_address[1]}/frame/faces.jpg?token={token}"
        with urllib.request.urlopen(url, timeout=10) as r:
            tile = cv2.imdecode(np.frombuffer(r.read(), np.uint8), cv2.IMREAD_COLOR)
    finally:
        runner.stop()
        server.stop()
        close = getattr(face, "close", None)
        if close:
            close()
    # Ground truth: every face YuNet finds anywhere in the unblurred frame.
    with make_face_detector("yunet") as truth:
        boxes = list(truth.detect_full_frame(still))
    assert boxes, "no face found in the still: the blur check would prove nothing"
    scale = tile.shape[1] / still.shape[1]
    original = cv2.resize(still, (tile.shape[1], tile.shape[0]), interpolation=cv2.INTER_AREA)
    for x1, y1, x2, y2 in boxes:
        # The middle of the face box: clear of the overlay's box lines and labels.
        w, h = (x2 - x1) * scale, (y2 - y1) * scale
        sx1, sy1 = int(x1 * scale + 0.2 * w), int(y1 * scale + 0.2 * h)
        sx2, sy2 = int(x2 * scale - 0.2 * w), int(y2 * scale - 0.2 * h)
        if sx2 - sx1 < 6 or sy2 - sy1 < 6:
            continue
        sharp = _laplacian_var(original[sy1:sy2, sx1:sx2])
        shown = _laplacian_var(tile[sy1:sy2, sx1:sx2])
        print(f"face sharpness {shown:.1f} on the tile vs {sharp:.1f} unblurred")
        assert shown < 0.35 * sharp, f"face not blurred ({shown:.1f} vs {sharp:.1f})"


def test_no_role_can_get_an_unblurred_tile() -> None:
    """The hub holds one (blurred) JPEG per camera and the token grants nothing else: the
    half-built unblurred variant and the faces bit of the token are gone (issue 13)."""
    import dataclasses

    from storelens.dashboard.auth import Role, User
    from storelens.detectors.hub import FrameHub, TileFrame

    assert [f.name for f in dataclasses.fields(TileFrame)] == ["seq", "ts", "jpeg"]
    assert not any(hasattr(User("u", role), "may_see_faces") for role in Role)
    assert not hasattr(FrameHub(), "want_faces")


def test_retention_deletes_expired_rows_on_its_own_schedule(tmp_path: Path) -> None:
    from storelens.data.writer import RetentionPolicy, Writer, WriterConfig

    config = WriterConfig(
        retention_interval_s=0.5, retention=RetentionPolicy(detections=7, expressions=30)
    )
    now = datetime.now(UTC)

    def detections(ts: datetime, n: int) -> pa.Table:
        f = pa.array([1.0] * n, pa.float32())
        return pa.table(
            {
                "ts": pa.array([ts] * n, pa.timestamp("us", tz="UTC")),
                "camera_id": ["c"] * n,
                "track_id": pa.array(range(n), pa.int64()),
                "class": ["person"] * n,
                "x1": f,
                "y1": f,
                "x2": f,
                "y2": f,
                "conf": f,
            }
        )

    with Writer(tmp_path / "r.duckdb", config) as writer:
        writer.append("detections", detections(now - timedelta(days=8), 5), "old")
        writer.append("detections", detections(now - timedelta(days=6), 3), "recent")
        writer.flush(30)
        cur = writer.cursor()
        # No run_retention() call: the writer's timer must do it.
        assert wait_until(
            lambda: cur.execute("SELECT count(*) FROM detections").fetchall()[0][0] == 3, 30
        ), "expired rows were not deleted on schedule"
        kept = cur.execute("SELECT min(ts) FROM detections").fetchall()[0][0]
        assert kept > now - timedelta(days=7)


@pytest.mark.parametrize("table", ["expressions", "tracks"])
def test_expression_tables_have_no_column_that_could_hold_pixels(pipeline_run, table: str) -> None:
    con = duckdb.connect(str(pipeline_run.db), read_only=True)
    try:
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", [table]
            ).fetchall()
        )
    finally:
        con.close()
    assert types, table
    assert not [c for c, t in types.items() if t in ("BLOB",) or t.endswith("[]")], types


def test_every_live_view_access_is_recorded_with_who_when_which_camera(tmp_path: Path) -> None:
    """Through the writer's real read API, as the dashboard's Live page calls it."""
    from storelens.data.apiauth import Caller
    from storelens.data.catalog import upsert_camera, upsert_store
    from storelens.data.readapi import serve
    from storelens.data.reader import ApiReader
    from storelens.data.writer import Writer

    def catalog(con) -> None:
        upsert_store(con, "s1", "Store 1", "north", "UTC")
        for camera_id in ("door", "till"):
            upsert_camera(con, camera_id, "s1", camera_id, "entrance", None, [], [])

    with Writer(tmp_path / "audit.duckdb") as writer:
        writer.execute_admin(catalog)
        api = serve(writer, port=0, publish=False)
        try:
            # The API records the signed caller (data/apiauth.py), as the dashboard signs it.
            reader = ApiReader(api.url, secret=api.secret)
            before = datetime.now(UTC)
            maria = reader.for_caller(Caller("maria", "store_manager", store="s1"))
            maria.log_live_view("maria", "store_manager", "door")
            reader.for_caller(Caller("li", "admin")).log_live_view("li", "admin", "till")
            writer.flush(30)
            rows = (
                writer.cursor()
                .execute("SELECT user_name, role, camera_id, ts FROM live_view_log ORDER BY ts")
                .fetchall()
            )
        finally:
            api.stop()
    assert [r[:3] for r in rows] == [("maria", "store_manager", "door"), ("li", "admin", "till")]
    assert all(before - timedelta(seconds=1) <= r[3] <= datetime.now(UTC) for r in rows)
