"""Tile overlays read by managers (issue 19, item 10): labels at least 12 px tall on
screen at the narrowest tile the Live page shows, and no engineering words or numbers
("dropped 39", "unknown 0.00", frame rates) on the picture."""

from __future__ import annotations

import numpy as np
import pytest
from storelens.dashboard.tiles import TILE_MIN_CSS_PX
from storelens.detectors.overlay import draw_label, draw_overlay, text_scale
from storelens.detectors.types import CameraState, CameraStatus, Detections

# The narrowest tile the Live page shows in a 1400 px window (at most two a row;
# tests/dashboard/test_browser_live_words.py measures the tiles). A tile JPEG is at most
# 640 px wide.
NARROWEST_TILE_CSS_PX = TILE_MIN_CSS_PX


def glyph_height(width: int) -> int:
    """Rows covered by the white text of a label "Ag" (ascender to descender) on a black
    tile ``width`` px wide, drawn at the overlay's own scale for that tile."""
    image = np.zeros((width * 9 // 16, width, 3), np.uint8)
    draw_label(image, "Ag", (10, 100), (0, 0, 0), text_scale(image))
    rows = np.where((image.min(axis=2) > 128).any(axis=1))[0]  # text pixels (anti-aliased)
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize("width", [320, 480, 640])
def test_labels_are_at_least_12_px_on_screen(width: int) -> None:
    on_screen = glyph_height(width) * NARROWEST_TILE_CSS_PX / width
    print(f"tile {width} px: label {glyph_height(width)} px, {on_screen:.1f} px on screen")
    assert on_screen >= 12


def blank() -> np.ndarray:
    return np.full((270, 480, 3), 90, np.uint8)


def test_status_strip_shows_no_frame_counts_or_rates() -> None:
    calm = CameraStatus("cam-1", "Aisle", CameraState.ONLINE, 12.0, 12.0, dropped_frames=0)
    busy = CameraStatus("cam-1", "Aisle", CameraState.ONLINE, 3.1, 2.2, dropped_frames=39)
    a = draw_overlay(blank(), Detections.empty(), status=calm)
    b = draw_overlay(blank(), Detections.empty(), status=busy)
    assert np.array_equal(a, b), "fps or dropped frames are drawn on the tile"
    offline = CameraStatus("cam-1", "Aisle", CameraState.OFFLINE)
    c = draw_overlay(blank(), Detections.empty(), status=offline)
    assert not np.array_equal(a, c), "the state (live / offline) is drawn in words"


def person(valence: str | None, expression: str | None, confidence: float | None) -> Detections:
    data: dict[str, np.ndarray] = {
        "face_xyxy": np.array([(200.0, 60.0, 240.0, 100.0)], dtype=np.float32)
    }
    if valence is not None:
        data["valence"] = np.array([valence], dtype=object)
    if expression is not None:
        data["expression"] = np.array([expression], dtype=object)
    if confidence is not None:
        data["expression_confidence"] = np.array([confidence], dtype=np.float32)
    return Detections(
        np.array([(180.0, 40.0, 260.0, 250.0)]), np.array([0.9]), np.array([0]), np.array([7]), data
    )


def test_an_unread_face_gets_no_badge_and_a_read_one_no_score() -> None:
    bare = draw_overlay(blank(), person(None, None, None))
    unknown = draw_overlay(blank(), person("unknown", "Sad", 0.0))
    assert np.array_equal(bare, unknown), '"unknown 0.00" (or any badge) on an unread face'
    sure = draw_overlay(blank(), person("satisfied", "Happy", 0.93))
    unsure = draw_overlay(blank(), person("satisfied", "Neutral", 0.41))
    assert not np.array_equal(bare, sure), "a read face says how it was read"
    assert np.array_equal(sure, unsure), "model label or score drawn on the badge"


def test_a_zone_label_near_the_top_stays_below_the_status_strip() -> None:
    from storelens.detectors.events import EngineState
    from storelens.detectors.overlay import STRIP_COLOR, ZONE_COLORS
    from storelens.kernel.config import ZoneConfig, ZoneKind

    zone = ZoneConfig(
        name="Aisle queue", kind=ZoneKind.QUEUE, polygon=[(40, 20), (440, 20), (440, 262)]
    )
    state = EngineState(zone_occupancy={"Aisle queue": 1}, queue_length={"Aisle queue": 1})
    status = CameraStatus("cam-1", "Aisle", CameraState.ONLINE)
    out = draw_overlay(blank(), Detections.empty(), zones=[zone], engine_state=state, status=status)
    strip_rows = np.where(np.all(out[:, 240] == STRIP_COLOR, axis=1))[0]
    strip = out[: strip_rows.max() + 1]
    label = np.all(out == np.array(ZONE_COLORS[ZoneKind.QUEUE], np.uint8), axis=2)
    assert not np.all(strip == np.array(ZONE_COLORS[ZoneKind.QUEUE]), axis=2).any()
    assert label[strip.shape[0] : strip.shape[0] + 40].sum() > 500  # the label, just below
