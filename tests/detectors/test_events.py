"""Tracks -> events as tables of synthetic tracks: no video, no models."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from storelens.detectors.events import (
    EVENTS_SCHEMA,
    QUEUE_SAMPLES_SCHEMA,
    EventEngine,
    EventRow,
    points_in_polygon,
)
from storelens.detectors.rows import to_arrow
from storelens.detectors.types import NO_TRACK, Detections, TrackEvent
from storelens.kernel.config import LineConfig, ZoneConfig, ZoneKind

T0 = 1_764_000_000.0  # a fixed epoch second so rows are reproducible


def frame(*people: tuple[int, float, float], class_id: int = 0) -> Detections:
    """People as (track_id, foot_x, foot_y); each box is 20 px wide and 60 px tall."""
    if not people:
        return Detections.empty()
    xyxy = [(x - 10, y - 60, x + 10, y) for _, x, y in people]
    return Detections(
        xyxy=np.array(xyxy),
        confidence=np.full(len(people), 0.9),
        class_id=np.full(len(people), class_id),
        tracker_id=np.array([tid for tid, _, _ in people]),
    )


def run(
    engine: EventEngine, track: list[tuple[float, float]], *, track_id: int = 7, dt_s: float = 0.2
):
    """Feed one person's foot points, one frame every dt_s; returns all rows incl. finish."""
    rows: list[EventRow] = []
    ts = T0
    for x, y in track:
        rows += engine.update(ts, frame((track_id, x, y)))
        ts += dt_s
    rows += engine.finish(ts)
    return rows


def crossings(rows: list[EventRow]) -> list[tuple[str, str]]:
    return [
        (str(r.kind), r.zone) for r in rows if r.zone is not None and r.kind in ("enter", "exit")
    ]


# A horizontal line drawn left to right: looking from start to end, the screen's right
# side is *below* it (image y grows downwards), so walking down the image is "in".
H_LINE = LineConfig(name="door", start=(0, 100), end=(200, 100))


def ys(*values: float, x: float = 100) -> list[tuple[float, float]]:
    return [(x, y) for y in values]


CROSSING_TABLE = [
    # id, line, foot points, expected crossings
    ("walks down = in", H_LINE, ys(40, 55, 70, 85, 100, 115, 130, 145, 160), [("enter", "door")]),
    ("walks up = out", H_LINE, ys(160, 145, 130, 115, 100, 85, 70, 55, 40), [("exit", "door")]),
    (
        "reversed line flips direction",
        LineConfig(name="door", start=(200, 100), end=(0, 100)),
        ys(40, 55, 70, 85, 100, 115, 130, 145, 160),
        [("exit", "door")],
    ),
    (
        "vertical line pointing down: right-to-left on screen is in",
        LineConfig(name="door", start=(100, 0), end=(100, 200)),
        [(x, 150) for x in (180, 160, 140, 120, 100, 80, 60, 40, 20)],
        [("enter", "door")],
    ),
    (
        "jitter inside the band never crosses",
        H_LINE,
        ys(60, 80, 98, 102, 97, 103, 98, 102, 99, 101, 60),
        [],
    ),
    (
        "wobbling across the band counts once per direction",
        H_LINE,
        ys(40, 60, 90, 110, 90, 110, 90, 110, 90, 110, 140),
        [("enter", "door"), ("exit", "door")],
    ),
    ("approach and turn back", H_LINE, ys(20, 40, 60, 80, 94, 80, 60, 40, 20), []),
    ("walks past the end of the segment", H_LINE, ys(40, 60, 80, 100, 120, 140, 160, x=260), []),
    (
        "crosses within the band of the end (feet on the frame's edge) counts",
        H_LINE,
        ys(40, 60, 80, 100, 120, 140, 160, x=203),
        [("enter", "door")],
    ),
    ("crosses just beyond the band of the end", H_LINE, ys(40, 60, 80, 100, 120, 140, x=205), []),
    (
        "fast jump over the line (low fps) still counts",
        H_LINE,
        ys(20, 30, 40, 50, 150, 160, 170),
        [("enter", "door")],
    ),
    ("too short a track is ignored", H_LINE, ys(80, 95, 105, 120), []),
    (
        "too little displacement is ignored",
        H_LINE,
        ys(94, 96, 98, 100, 102, 104, 106, 108, 106, 104),
        [],
    ),
]


@pytest.mark.parametrize(
    ("line", "track", "expected"),
    [c[1:] for c in CROSSING_TABLE],
    ids=[c[0] for c in CROSSING_TABLE],
)
def test_line_crossings(line: LineConfig, track: list[tuple[float, float]], expected: list) -> None:
    engine = EventEngine("cam", [line], [], min_track_s=1.0, min_displacement_px=20, line_band_px=4)
    rows = run(engine, track)
    assert crossings(rows) == expected
    state = engine.state
    assert state.line_in["door"] == sum(1 for k, _ in expected if k == "enter")
    assert state.line_out["door"] == sum(1 for k, _ in expected if k == "exit")


def test_untracked_detections_never_cross() -> None:
    engine = EventEngine("cam", [H_LINE], [], min_track_s=0, min_displacement_px=0)
    rows = run(engine, ys(40, 60, 80, 100, 120, 140, 160), track_id=NO_TRACK)
    assert rows == []
    assert engine.state.line_in == {"door": 0}


def test_crossing_of_a_young_track_is_emitted_with_the_crossing_time() -> None:
    # The crossing happens at frame 2 (0.4 s), but the track only qualifies at 1.0 s.
    engine = EventEngine("cam", [H_LINE], [], min_track_s=1.0, min_displacement_px=20)
    rows: list[EventRow] = []
    for i, y in enumerate((80, 90, 120, 125, 130, 135)):
        rows += engine.update(T0 + 0.2 * i, frame((3, 100, y)))
        if i < 5:
            assert rows == [], "held back until the track qualifies"
    assert rows == [EventRow(T0 + 0.4, "cam", 3, TrackEvent.ENTER, "door", None)]


def test_two_tracks_are_counted_independently() -> None:
    engine = EventEngine("cam", [H_LINE], [], min_track_s=0.5, min_displacement_px=10)
    rows: list[EventRow] = []
    for i, y in enumerate(range(40, 170, 15)):
        rows += engine.update(T0 + 0.2 * i, frame((1, 50, y), (2, 150, 200 - y)))
    assert sorted((r.track_id, str(r.kind)) for r in rows if r.zone == "door") == [
        (1, "enter"),
        (2, "exit"),
    ]


def test_non_person_classes_are_ignored() -> None:
    engine = EventEngine("cam", [H_LINE], [], min_track_s=0, min_displacement_px=0)
    rows = []
    for i, y in enumerate((40, 80, 120, 160)):
        rows += engine.update(T0 + i, frame((1, 100, y), class_id=2))
    assert rows == []


SQUARE = [(0, 0), (100, 0), (100, 100), (0, 100)]


def stay(
    inside_s: float, *, before: int = 2, after: int = 2, dt_s: float = 0.5
) -> list[tuple[float, float]]:
    """Outside for `before` frames, inside for inside_s, then outside for `after` frames."""
    return [(150, 50)] * before + [(50, 50)] * (round(inside_s / dt_s) + 1) + [(150, 50)] * after


ZONE_TABLE = [
    # id, kind, min_dwell_s, foot points (0.5 s apart), expected (kind, ts offset, value)
    (
        "floor visit of 5 s",
        ZoneKind.FLOOR,
        2.0,
        stay(5.0),
        [("zone_enter", 1.0, None), ("zone_exit", 6.0, 5.0)],
    ),
    ("visit shorter than min_dwell_s emits nothing", ZoneKind.FLOOR, 2.0, stay(1.5), []),
    (
        "queue zone emits join/leave with the wait",
        ZoneKind.QUEUE,
        1.0,
        stay(3.0),
        [("queue_join", 1.0, None), ("queue_leave", 4.0, 3.0)],
    ),
    (
        "checkout zone is a queue too",
        ZoneKind.CHECKOUT,
        0.0,
        stay(2.0),
        [("queue_join", 1.0, None), ("queue_leave", 3.0, 2.0)],
    ),
    (
        "jitter on the edge does not split the visit",
        ZoneKind.FLOOR,
        2.0,
        [
            (150, 50),
            (50, 50),
            (99, 50),
            (101, 50),
            (99, 50),
            (101, 50),
            (99, 50),
            (101, 50),
            (50, 50),
            (150, 50),
            (150, 50),
            (150, 50),
        ],
        [("zone_enter", 0.5, None), ("zone_exit", 4.0, 3.5)],
    ),
]


@pytest.mark.parametrize(
    ("kind", "min_dwell", "track", "expected"),
    [c[1:] for c in ZONE_TABLE],
    ids=[c[0] for c in ZONE_TABLE],
)
def test_zone_visits(kind: ZoneKind, min_dwell: float, track: list, expected: list) -> None:
    zone = ZoneConfig(name="z", kind=kind, polygon=SQUARE, min_dwell_s=min_dwell)
    engine = EventEngine("cam", [], [zone], min_track_s=1.0, zone_exit_grace_s=1.0)
    rows = [r for r in run(engine, track, dt_s=0.5) if r.zone == "z"]
    got = [
        (str(r.kind), round(r.ts - T0, 3), None if r.value is None else round(r.value, 3))
        for r in rows
    ]
    assert got == expected


def test_track_lost_inside_a_zone_closes_the_visit_after_the_grace_period() -> None:
    zone = ZoneConfig(name="till", kind=ZoneKind.CHECKOUT, polygon=SQUARE, min_dwell_s=1.0)
    engine = EventEngine("cam", [], [zone], track_grace_s=2.0)
    rows: list[EventRow] = []
    for i in range(7):  # inside from T0 to T0+3
        rows += engine.update(T0 + 0.5 * i, frame((5, 50, 50)))
    assert engine.state.queue_length == {"till": 1}
    rows += engine.update(T0 + 4.0, frame())  # unseen 1 s: still in the queue
    assert engine.state.queue_length == {"till": 1}
    assert [r.kind for r in rows] == [TrackEvent.QUEUE_JOIN]
    rows += engine.update(T0 + 5.5, frame())  # unseen 2.5 s > grace: gone
    assert rows[1:] == [
        EventRow(T0 + 3.0, "cam", 5, TrackEvent.QUEUE_LEAVE, "till", 3.0),
        EventRow(T0 + 3.0, "cam", 5, TrackEvent.EXIT, None, 3.0),
    ]
    assert engine.state.queue_length == {"till": 0}
    assert engine.state.active_tracks == 0


def test_row_helpers_tell_crossings_from_track_ends() -> None:
    crossing_out = EventRow(T0, "cam", 1, TrackEvent.EXIT, "door", None)
    track_end = EventRow(T0, "cam", 1, TrackEvent.EXIT, None, 4.0)
    visit = EventRow(T0, "cam", 1, TrackEvent.ZONE_EXIT, "aisle", 4.0)
    assert (crossing_out.is_line_crossing, crossing_out.is_track_end) == (True, False)
    assert (track_end.is_line_crossing, track_end.is_track_end) == (False, True)
    assert (visit.is_line_crossing, visit.is_track_end) == (False, False)


def test_short_lived_track_gets_no_exit_row() -> None:
    engine = EventEngine("cam", [], [], min_track_s=1.0, track_grace_s=2.0)
    assert engine.update(T0, frame((1, 10, 10))) == []
    assert engine.update(T0 + 0.5, frame((1, 12, 10))) == []
    assert engine.update(T0 + 3.0, frame()) == []
    assert engine.state.active_tracks == 0


def test_finish_closes_open_visits_and_tracks() -> None:
    zone = ZoneConfig(name="aisle", polygon=SQUARE, min_dwell_s=1.0)
    engine = EventEngine("cam", [], [zone])
    for i in range(5):
        engine.update(T0 + i, frame((9, 50, 50)))
    rows = engine.finish(T0 + 10)
    assert rows == [
        EventRow(T0 + 4, "cam", 9, TrackEvent.ZONE_EXIT, "aisle", 4.0),
        EventRow(T0 + 4, "cam", 9, TrackEvent.EXIT, None, 4.0),
    ]
    assert engine.finish(T0 + 11) == []


def test_live_state_occupancy_queue_length_and_waits() -> None:
    queue = ZoneConfig(name="q", kind=ZoneKind.QUEUE, polygon=SQUARE, min_dwell_s=2.0)
    floor = ZoneConfig(
        name="f", polygon=[(200, 0), (300, 0), (300, 100), (200, 100)], min_dwell_s=0
    )
    engine = EventEngine("cam", [], [queue, floor])
    engine.update(T0, frame((1, 20, 50), (NO_TRACK, 250, 50)))
    engine.update(T0 + 1, frame((1, 20, 50), (2, 60, 50), (NO_TRACK, 250, 50), (NO_TRACK, 260, 60)))
    state = engine.state
    assert state.zone_occupancy == {"q": 2, "f": 2}  # untracked people are still people
    assert state.queue_length == {"q": 0}  # nobody has waited min_dwell_s yet
    engine.update(T0 + 3.5, frame((1, 20, 50), (2, 60, 50)))
    state = engine.state
    assert state.queue_length == {"q": 2}
    assert state.queue_waits == {"q": {1: 3.5, 2: 2.5}}
    assert state.zone_occupancy == {"q": 2, "f": 0}
    samples = engine.queue_samples(T0 + 3.5)
    assert [(s.zone, s.length) for s in samples] == [("q", 2)]  # floor zones are not queues


def test_state_snapshot_is_not_mutated_by_later_updates() -> None:
    engine = EventEngine("cam", [H_LINE], [], min_track_s=0, min_displacement_px=0)
    before = engine.state
    run(engine, ys(40, 60, 80, 100, 120, 140))
    assert before.line_in == {"door": 0}
    assert engine.state.line_in == {"door": 1}


def test_out_of_order_timestamps_are_ignored() -> None:
    zone = ZoneConfig(name="z", polygon=SQUARE, min_dwell_s=0)
    engine = EventEngine("cam", [], [zone])
    engine.update(T0 + 5, frame((1, 50, 50)))
    assert engine.update(T0 + 1, frame((1, 150, 50))) == []
    assert engine.out_of_order_updates == 1
    assert engine.state.ts == T0 + 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_track_s": -1}, "min_track_s"),
        ({"line_band_px": float("nan")}, "line_band_px"),
    ],
)
def test_bad_parameters_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EventEngine("cam", [], [], **kwargs)


def test_duplicate_zone_names_are_rejected() -> None:
    zone = ZoneConfig(name="z", polygon=SQUARE)
    with pytest.raises(ValueError, match="zone names must be unique"):
        EventEngine("cam", [], [zone, zone])


def test_in_staff_zone_masks_people_behind_the_counter() -> None:
    staff = ZoneConfig(name="counter", kind=ZoneKind.STAFF, polygon=SQUARE)
    floor = ZoneConfig(name="floor", polygon=[(200, 0), (300, 0), (300, 100), (200, 100)])
    engine = EventEngine("cam", [], [staff, floor])
    mask = engine.in_staff_zone(frame((1, 50, 50), (2, 250, 50), (NO_TRACK, 10, 90), (3, 500, 500)))
    assert mask.tolist() == [True, False, True, False]
    assert engine.in_staff_zone(Detections.empty()).shape == (0,)


CONCAVE_U = [(0, 0), (30, 0), (30, 70), (70, 70), (70, 0), (100, 0), (100, 100), (0, 100)]


@pytest.mark.parametrize(
    ("point", "inside"),
    [
        ((10, 10), True),
        ((50, 30), False),
        ((50, 90), True),
        ((90, 10), True),
        ((150, 50), False),
        ((-2, 50), False),
        # Within a pixel of an edge counts as inside: a box cut by the frame's bottom edge
        # ends at y = h while zones are drawn to the last pixel row, h - 1.
        ((-1, 50), True),
        ((50, 101), True),
        ((50, 102.5), False),
        ((50, 70.5), True),
        ((50, 68.5), False),
    ],
)
def test_points_in_concave_polygon(point: tuple[float, float], inside: bool) -> None:
    assert points_in_polygon(np.array([point]), CONCAVE_U).tolist() == [inside]


def test_rows_to_arrow_has_the_events_schema() -> None:
    rows = [
        EventRow(T0 + 0.25, "cam", 4, TrackEvent.ENTER, "door", None),
        EventRow(T0 + 9, "cam", 4, TrackEvent.ZONE_EXIT, "aisle", 6.5),
    ]
    table = to_arrow(rows, EVENTS_SCHEMA)
    assert table.schema == EVENTS_SCHEMA
    assert table.column("ts").type == pa.timestamp("us", tz="UTC")
    first = table.to_pylist()[0]
    assert first["ts"] == dt.datetime.fromtimestamp(T0 + 0.25, tz=dt.UTC)
    assert first["kind"] == "enter" and first["value"] is None
    assert table.column("value").to_pylist() == [None, 6.5]
    assert to_arrow([], EVENTS_SCHEMA).num_rows == 0


def test_queue_samples_arrow_schema() -> None:
    zone = ZoneConfig(name="till", kind=ZoneKind.CHECKOUT, polygon=SQUARE)
    engine = EventEngine("cam", [], [zone])
    table = to_arrow(engine.queue_samples(T0), QUEUE_SAMPLES_SCHEMA)
    assert table.schema == QUEUE_SAMPLES_SCHEMA
    assert table.to_pylist() == [
        {
            "ts": dt.datetime.fromtimestamp(T0, tz=dt.UTC),
            "camera_id": "cam",
            "zone": "till",
            "length": 0,
        }
    ]
    assert to_arrow([], QUEUE_SAMPLES_SCHEMA).num_rows == 0


@pytest.mark.parametrize(
    ("heights", "expected"),
    [
        # Same 60 px body walking down across y=100: one inward crossing.
        ([60, 60, 60, 60, 60, 60], [("enter", "door")]),
        # The box suddenly shrinks to the head and shoulders (someone steps in front) while
        # its bottom edge jumps across the line: not a crossing.
        ([60, 60, 60, 25, 25, 25], []),
    ],
)
def test_a_sudden_box_shrink_is_an_occlusion_not_a_crossing(heights, expected) -> None:
    engine = EventEngine("cam", [H_LINE], [], min_track_s=0.0, min_displacement_px=0.0)
    feet = [70, 80, 90, 110, 112, 114]
    rows: list[EventRow] = []
    for i, (y, h) in enumerate(zip(feet, heights, strict=True)):
        box = Detections(
            xyxy=np.array([[90, y - h, 110, y]]),
            confidence=np.array([0.9]),
            class_id=np.array([0]),
            tracker_id=np.array([7]),
        )
        rows += engine.update(T0 + 0.2 * i, box)
    assert crossings(rows) == expected
