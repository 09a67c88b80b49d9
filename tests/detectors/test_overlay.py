"""Overlay facts checked on the pixels of a real shared frame."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from storelens.detectors.display import AnalysisSnapshot, blur_for_display
from storelens.detectors.events import EngineState
from storelens.detectors.overlay import (
    LINE_COLOR,
    PERSON_COLOR,
    STATE_COLORS,
    STRIP_COLOR,
    UNTRACKED_COLOR,
    VALENCE_COLORS,
    ZONE_COLORS,
    draw_overlay,
    encode_jpeg,
)
from storelens.detectors.types import NO_TRACK, CameraState, CameraStatus, Detections, Valence
from storelens.kernel.config import LineConfig, ZoneConfig, ZoneKind

PERSON = (100, 40, 180, 240)  # head region (top 20 %) is y 40..80
FACE = (120, 50, 160, 90)


@pytest.fixture(scope="module")
def frame(media_dir: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(media_dir / "store-aisle-detection.gif"))
    for _ in range(10):
        ok, image = cap.read()
        assert ok
    cap.release()
    return image


def people(
    face: tuple | None = FACE,
    track_id: int = 4,
    valence: str | None = None,
    expression: str | None = None,
    confidence: float | None = None,
) -> Detections:
    data: dict[str, np.ndarray] = {
        "face_xyxy": np.array([face if face is not None else (np.nan,) * 4], dtype=np.float32)
    }
    if valence is not None:
        data["valence"] = np.array([valence], dtype=object)
    if expression is not None:
        data["expression"] = np.array([expression], dtype=object)
    if confidence is not None:
        data["expression_confidence"] = np.array([confidence], dtype=np.float32)
    return Detections(
        np.array([PERSON]), np.array([0.9]), np.array([0]), np.array([track_id]), data
    )


def region(image: np.ndarray, box: tuple[int, int, int, int], inset: int = 6) -> np.ndarray:
    x1, y1, x2, y2 = box
    return image[y1 + inset : y2 - inset, x1 + inset : x2 - inset].astype(np.float64)


def count_color(image: np.ndarray, color: tuple[int, int, int]) -> int:
    return int(np.all(image == np.array(color, dtype=np.uint8), axis=2).sum())


def test_input_is_never_mutated(frame: np.ndarray) -> None:
    before = frame.copy()
    dets = people(valence="satisfied")
    face_before = dets.data["face_xyxy"].copy()
    out = draw_overlay(
        frame,
        dets,
        lines=[LineConfig(start=(0, 200), end=(480, 200))],
        zones=[ZoneConfig(name="z", polygon=[(10, 100), (90, 100), (90, 200)])],
        engine_state=EngineState(),
        status=CameraStatus("cam", "Aisle", CameraState.ONLINE),
    )
    assert out is not frame and out.shape == frame.shape and out.dtype == np.uint8
    assert np.array_equal(frame, before)
    assert np.array_equal(dets.data["face_xyxy"], face_before)
    assert not np.array_equal(out, frame)


def test_the_overlay_draws_and_never_blurs(frame: np.ndarray) -> None:
    """Blurring is display.compose_tile's job, done before the overlay (issue 20 item 5)."""
    out = draw_overlay(frame, people())
    assert np.array_equal(region(out, FACE), region(frame, FACE))


def test_face_box_is_blurred_for_display(frame: np.ndarray) -> None:
    assert region(frame, FACE).var() > 50, "the test needs texture where the face box is"
    out = frame.copy()
    blur_for_display(out, AnalysisSnapshot(0.0, people(), EngineState()), 0.0)
    assert region(out, FACE).var() < 0.3 * region(frame, FACE).var()


def test_person_without_a_face_box_gets_the_head_blurred(frame: np.ndarray) -> None:
    head = (PERSON[0], PERSON[1], PERSON[2], PERSON[1] + 40)
    body = (PERSON[0], PERSON[1] + 80, PERSON[2], PERSON[3])
    out = frame.copy()
    blur_for_display(out, AnalysisSnapshot(0.0, people(face=None), EngineState()), 0.0)
    assert region(out, head).var() < 0.3 * region(frame, head).var()
    assert np.array_equal(region(out, body), region(frame, body))  # only the head


@pytest.mark.parametrize(
    ("track_id", "color", "absent"),
    [(4, PERSON_COLOR, UNTRACKED_COLOR), (NO_TRACK, UNTRACKED_COLOR, PERSON_COLOR)],
)
def test_person_box_colour(frame: np.ndarray, track_id: int, color: tuple, absent: tuple) -> None:
    out = draw_overlay(frame, people(track_id=track_id))
    left_edge = out[PERSON[1] + 20 : PERSON[3] - 5, PERSON[0] : PERSON[0] + 1]
    assert count_color(left_edge, color) == len(left_edge)
    assert count_color(out, absent) == count_color(frame, absent)


def test_no_track_number_on_the_tile(frame: np.ndarray) -> None:
    """Issue 19 item 10: "#871" means nothing to a manager; the box colour says tracked."""
    a = draw_overlay(frame, people(track_id=4))
    b = draw_overlay(frame, people(track_id=871))
    assert np.array_equal(a, b)


@pytest.mark.parametrize(
    ("valence", "other"),
    [(Valence.SATISFIED, Valence.FRUSTRATED), (Valence.FRUSTRATED, Valence.SATISFIED)],
)
def test_face_badge_is_coloured_by_valence(
    frame: np.ndarray, valence: Valence, other: Valence
) -> None:
    dets = people(
        valence=str(valence),
        expression="happy" if valence == "satisfied" else "angry",
        confidence=0.81,
    )
    out = draw_overlay(frame, dets)
    assert count_color(out, VALENCE_COLORS[valence]) > 100 + count_color(
        frame, VALENCE_COLORS[valence]
    )
    assert count_color(out, VALENCE_COLORS[other]) == count_color(frame, VALENCE_COLORS[other])


def test_face_box_without_expression_has_no_badge(frame: np.ndarray) -> None:
    plain = draw_overlay(frame, people())
    badged = draw_overlay(frame, people(valence="neutral", confidence=0.5))
    below_face = slice(FACE[3] + 1, FACE[3] + 25), slice(FACE[0], FACE[0] + 80)
    assert count_color(plain[below_face], VALENCE_COLORS[Valence.NEUTRAL]) == 0
    assert count_color(badged[below_face], VALENCE_COLORS[Valence.NEUTRAL]) > 50


def test_lines_and_zones_with_live_counts(frame: np.ndarray) -> None:
    line = LineConfig(name="door", start=(20, 250), end=(460, 250))
    zone = ZoneConfig(
        name="till",
        kind=ZoneKind.CHECKOUT,
        polygon=[(300, 100), (460, 100), (460, 200), (300, 200)],
    )
    empty = Detections.empty()
    state_a = EngineState(
        line_in={"door": 3},
        line_out={"door": 1},
        zone_occupancy={"till": 2},
        queue_length={"till": 2},
        queue_waits={"till": {1: 75.0, 2: 12.0}},
    )
    state_b = EngineState(
        line_in={"door": 12},
        line_out={"door": 1},
        zone_occupancy={"till": 0},
        queue_length={"till": 0},
        queue_waits={"till": {}},
    )
    a = draw_overlay(frame, empty, lines=[line], zones=[zone], engine_state=state_a)
    b = draw_overlay(frame, empty, lines=[line], zones=[zone], engine_state=state_b)
    assert count_color(a[245:256, 40:440], LINE_COLOR) > 400
    assert count_color(a[150:151, 298:304], ZONE_COLORS[ZoneKind.CHECKOUT]) >= 1  # the border
    inside = a[130:180, 330:430].astype(int) - frame[130:180, 330:430].astype(int)
    assert np.abs(inside).mean() > 3  # tinted
    assert np.array_equal(a[20:90, 0:90], frame[20:90, 0:90])  # far from everything: untouched
    assert not np.array_equal(a, b)  # the numbers are drawn


@pytest.mark.parametrize(
    ("state", "other"),
    [(CameraState.ONLINE, CameraState.OFFLINE), (CameraState.OFFLINE, CameraState.ONLINE)],
)
def test_status_strip(frame: np.ndarray, state: CameraState, other: CameraState) -> None:
    status = CameraStatus("cam-1", "Aisle 3", state, capture_fps=9.8)
    out = draw_overlay(frame, Detections.empty(), status=status)
    strip = out[0:6]
    assert count_color(strip, STRIP_COLOR) > 0.8 * strip.shape[0] * strip.shape[1]
    assert count_color(out[:25], STATE_COLORS[state]) > 10
    assert count_color(out[:25], STATE_COLORS[other]) == count_color(
        frame[:25], STATE_COLORS[other]
    )
    assert np.array_equal(draw_overlay(frame, Detections.empty(), status=None), frame)


def test_boxes_outside_the_frame_or_nan_do_not_crash(frame: np.ndarray) -> None:
    dets = Detections(
        np.array(
            [(-50, -50, 10, 10), (470, 260, 900, 900), (np.nan, 0, 5, 5), (300, 300, 300, 300)]
        ),
        np.full(4, 0.5),
        np.zeros(4),
        np.array([1, 2, 3, NO_TRACK]),
        {"face_xyxy": np.full((4, 4), np.nan, np.float32)},
    )
    out = draw_overlay(frame, dets)
    assert out.shape == frame.shape


def test_rejects_a_non_bgr_image() -> None:
    with pytest.raises(ValueError, match="BGR uint8"):
        draw_overlay(np.zeros((10, 10), np.uint8), Detections.empty())


def test_encode_jpeg(frame: np.ndarray) -> None:
    high, low = encode_jpeg(frame, quality=90), encode_jpeg(frame, quality=30)
    assert high[:2] == b"\xff\xd8" and low[:2] == b"\xff\xd8"
    assert len(low) < len(high)
    decoded = cv2.imdecode(np.frombuffer(high, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == frame.shape
    assert np.abs(decoded.astype(int) - frame.astype(int)).mean() < 4
    with pytest.raises(ValueError, match="quality"):
        encode_jpeg(frame, quality=0)
