"""Rows leave the pipeline one way (issue 13 item 2): typed rows → ``to_arrow`` → sink.

The sink's schemas are the contract: whatever rows a table gets, empty or not, the
table must carry exactly ``BATCH_SCHEMAS[table]`` so the writer takes it without a cast.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from storelens.data.schemas import conform
from storelens.data.sink import BATCH_SCHEMAS
from storelens.detectors.alerts import AlertRow
from storelens.detectors.events import EventRow, QueueSample
from storelens.detectors.rows import (
    PIPELINE_TABLES,
    DetectionRow,
    ExpressionRow,
    RowBuffer,
    TrackRow,
    to_arrow,
)
from storelens.detectors.types import TrackEvent

from tests.detectors.conftest import read_gif_frames

T0 = 1_764_000_000.123456  # epoch seconds with a fraction the µs column must keep

# One row of every table the pipeline writes (a second row differs in its nullable fields).
SAMPLE_ROWS = {
    "detections": [
        DetectionRow(T0, "cam", 3, "person", 1.5, 2.0, 30.25, 80.0, 0.875),
        DetectionRow(T0, "cam", -1, "face", 4.0, 5.0, 9.0, 12.0, 1.0),
    ],
    "expressions": [
        ExpressionRow(T0, "cam", 3, "happy", "satisfied", 0.75, '{"p": 0.75}', "valence-head"),
        ExpressionRow(T0 + 1, "cam", 3, "unknown", "unknown", 0.0, "{}", "m", zone="q"),
    ],
    "events": [
        EventRow(T0, "cam", 3, TrackEvent.ENTER, "door"),
        EventRow(T0 + 2, "cam", np.int64(4), TrackEvent.QUEUE_LEAVE, "q", np.float64(6.5)),
    ],
    "alerts": [AlertRow(T0, "cam", "queue_wait", "cam · q: a shopper has waited 4:00 min")],
    "queue_samples": [QueueSample(T0, "cam", "q", 2), QueueSample(T0 + 1, "cam", "q", 0)],
    "tracks": [
        TrackRow("cam", 3, T0, T0 + 9.5, '["q"]', "satisfied", 4, 0.5, 0.25, 0.25),
        TrackRow("cam", 4, T0, T0 + 1, "[]", None, 0, None, None, None),
    ],
}


def test_every_pipeline_table_has_sample_rows() -> None:
    assert set(SAMPLE_ROWS) == set(PIPELINE_TABLES)


@pytest.mark.parametrize("table", PIPELINE_TABLES)
def test_row_fields_are_the_schema_columns(table: str) -> None:
    row_class = type(SAMPLE_ROWS[table][0])
    assert table == row_class.TABLE
    fields = [f.name.removesuffix("_") for f in dataclasses.fields(row_class)]
    assert fields == BATCH_SCHEMAS[table].names


@pytest.mark.parametrize("empty", [True, False], ids=["empty", "rows"])
@pytest.mark.parametrize("table", PIPELINE_TABLES)
def test_to_arrow_gives_exactly_the_sink_schema(table: str, empty: bool) -> None:
    rows = [] if empty else SAMPLE_ROWS[table]
    schema = BATCH_SCHEMAS[table]
    arrow = to_arrow(rows, schema)
    assert arrow.schema.equals(schema, check_metadata=True)
    assert arrow.num_rows == len(rows)
    # The writer takes it as it is: no cast, no SchemaMismatch.
    assert conform(table, arrow) is arrow


def test_to_arrow_values() -> None:
    """Seconds become µs as the pipeline always rounded them; the keyword column is named."""
    detections = to_arrow(SAMPLE_ROWS["detections"], BATCH_SCHEMAS["detections"]).to_pylist()
    first = detections[0]
    assert first["ts"] == dt.datetime.fromtimestamp(round(T0 * 1e6) / 1e6, dt.UTC)
    assert first["ts"].microsecond == 123456
    assert (first["class"], first["track_id"], first["x2"], first["conf"]) == (
        "person",
        3,
        30.25,
        0.875,
    )
    events = to_arrow(SAMPLE_ROWS["events"], BATCH_SCHEMAS["events"]).to_pylist()
    assert [(e["kind"], e["value"]) for e in events] == [("enter", None), ("queue_leave", 6.5)]
    tracks = to_arrow(SAMPLE_ROWS["tracks"], BATCH_SCHEMAS["tracks"]).to_pylist()
    assert tracks[1]["valence"] is None and tracks[1]["p_neutral"] is None
    assert tracks[0]["last_ts"] - tracks[0]["first_ts"] == dt.timedelta(seconds=9.5)


def test_row_buffer_drains_each_table_once_in_order() -> None:
    buffer = RowBuffer()
    buffer.add(SAMPLE_ROWS["tracks"])
    buffer.add([*SAMPLE_ROWS["events"], *SAMPLE_ROWS["detections"]])
    tables = buffer.drain()
    assert list(tables) == ["detections", "events", "tracks"]  # PIPELINE_TABLES order
    assert {name: t.num_rows for name, t in tables.items()} == {
        "detections": 2,
        "events": 2,
        "tracks": 2,
    }
    assert buffer.drain() == {}


def test_shared_models_are_checked_against_their_protocols() -> None:
    from storelens.detectors.shared_models import SharedModels

    class NoDetect:
        pass

    with pytest.raises(TypeError, match="person model NoDetect is not a PersonModel"):
        SharedModels(person=NoDetect())


def test_pipeline_rows_round_trip(media_dir: Path, person_detector) -> None:
    """Real frames through CameraPipeline with the real OpenVINO person model, YuNet faces
    and the default expression reader: what ``analyse`` (and ``finish``, and the queue
    samples) said it made is exactly what a drain hands the sink, with the sink's schemas."""
    from storelens.detectors.expression_readers import make_expression_reader
    from storelens.detectors.faces import make_face_detector
    from storelens.detectors.pipeline import CameraPipeline
    from storelens.detectors.shared_models import PipelineOptions, SharedModels
    from storelens.detectors.types import Frame
    from storelens.kernel.config import CameraConfig, LineConfig, ZoneConfig

    frames = read_gif_frames(media_dir / "head-pose-face-detection-female-and-male.gif")[:40]
    h, w = frames[0].shape[:2]
    camera = CameraConfig(
        camera_id="rows",
        name="rows",
        source="unused",
        lines=[LineConfig(name="door", start=(w // 2, 0), end=(w // 2, h - 1))],
        zones=[
            ZoneConfig(
                name="q", kind="queue", polygon=[(0, 0), (w, 0), (w, h), (0, h)], min_dwell_s=0.5
            )
        ],
    )
    made: Counter[str] = Counter()
    drained: Counter[str] = Counter()

    def drain(pipeline: CameraPipeline) -> None:
        for name, table in pipeline.drain().items():
            assert table.schema.equals(BATCH_SCHEMAS[name], check_metadata=True), name
            assert conform(name, table) is table
            drained[name] += table.num_rows

    with make_face_detector("yunet") as faces:
        reader = make_expression_reader()
        try:
            models = SharedModels(person=person_detector, face=faces, expression=reader)
            pipeline = CameraPipeline(camera, models, PipelineOptions(workers=1))
            for i, image in enumerate(frames):
                ts = T0 + i / 12.5
                result = pipeline.analyse(Frame("rows", ts, i, image))
                made.update(row.TABLE for row in result.rows)
                if i % 4 == 0:
                    pipeline.sample_queues(ts)
                    made["queue_samples"] += 1
                if i % 10 == 9:
                    drain(pipeline)
            made.update(row.TABLE for row in pipeline.finish(T0 + len(frames) / 12.5 + 5))
            drain(pipeline)
        finally:
            reader.close()
    assert drained == made
    # The clip shows two people close up: every kind of row the clip can give was made.
    for table in ("detections", "expressions", "events", "queue_samples", "tracks"):
        assert made[table] > 0, table
