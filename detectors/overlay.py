"""Annotated frames for the live tiles: boxes, faces with expression badges, lines and zones
with live counts, and a status strip. Pure drawing: never mutates its input.

Blurring is not done here: :func:`storelens.detectors.display.compose_tile`, the only way a
tile is made, blurs first (by the analysis snapshot's age) and then calls
:func:`draw_overlay`, so nothing drawn here can be unblurred and no caller can skip the
blur. The blur primitives (:func:`privacy_boxes`, :func:`blur_region`) live here because
they share the box geometry with the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from storelens.detectors.events import EngineState
from storelens.detectors.types import NO_TRACK, CameraState, CameraStatus, Detections, Valence
from storelens.kernel.config import LineConfig, ZoneConfig, ZoneKind
from storelens.kernel.frame_size import with_frame_size

# Colours are BGR.
PERSON_COLOR = (255, 160, 0)  # tracked person: blue
UNTRACKED_COLOR = (170, 170, 170)
LINE_COLOR = (0, 220, 255)  # yellow
ZONE_COLORS = {
    ZoneKind.FLOOR: (120, 200, 0),
    ZoneKind.QUEUE: (0, 140, 255),
    ZoneKind.CHECKOUT: (0, 140, 255),
    ZoneKind.STAFF: (200, 120, 200),
}
VALENCE_COLORS = {
    Valence.SATISFIED: (60, 200, 60),
    Valence.NEUTRAL: (200, 200, 0),
    Valence.FRUSTRATED: (40, 40, 230),
    Valence.UNKNOWN: (150, 150, 150),
}
STATE_COLORS = {
    CameraState.ONLINE: (60, 200, 60),
    CameraState.RECONNECTING: (0, 170, 255),
    CameraState.OFFLINE: (40, 40, 230),
}
STATE_WORDS = {
    CameraState.ONLINE: "live",
    CameraState.RECONNECTING: "reconnecting",
    CameraState.OFFLINE: "offline",
}
STRIP_COLOR = (30, 30, 30)
HEAD_FRACTION = 0.2  # top share of a person box treated as the head when no face was found
FONT = cv2.FONT_HERSHEY_SIMPLEX


# Tiles are at most 640 px wide; the Live page shows them one or two a row, at least
# ~330 CSS px wide in a 1400 px window. A label's glyphs (ascender to descender) are ~23 px
# at scale 1, so scale = width / 600 keeps them >= 12 px on screen at that size for any
# tile width (tests/detectors/test_overlay_words.py; the browser test measures the tiles).
TEXT_WIDTH_DIVISOR = 600
MIN_TEXT_SCALE = 0.5


def text_scale(image: np.ndarray) -> float:
    """Text scale for labels on ``image``: legible at tile size, whatever the tile width."""
    return max(MIN_TEXT_SCALE, image.shape[1] / TEXT_WIDTH_DIVISOR)


def _thickness(scale: float) -> int:
    return max(1, round(scale * 2))


def clip_box(box: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    if not np.all(np.isfinite(box)):
        return None
    h, w = shape[:2]
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    x1, x2 = max(0, min(x1, x2)), min(w, max(x1, x2))
    y1, y2 = max(0, min(y1, y2)), min(h, max(y1, y2))
    if x2 - x1 < 1 or y2 - y1 < 1:
        return None
    return x1, y1, x2, y2


def blur_region(image: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """Blur ``image[y1:y2, x1:x2]`` in place beyond recognition.

    Down to at most 6 px across and back up: a blur whose strength scales with the face
    (a fixed Gaussian kernel leaves big close-up faces recognisable) at the cost of two
    tiny resizes.
    """
    x1, y1, x2, y2 = box
    region = image[y1:y2, x1:x2]
    h, w = region.shape[:2]
    small = cv2.resize(region, (max(1, min(6, w)), max(1, min(6, h))), interpolation=cv2.INTER_AREA)
    image[y1:y2, x1:x2] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def privacy_boxes(detections: Detections) -> list[tuple[np.ndarray, bool]]:
    """Per person, the box to blur and whether it is a detected face (False: head area)."""
    faces = detections.data.get("face_xyxy")
    out = []
    for i, person in enumerate(detections.xyxy):
        face = None if faces is None else np.asarray(faces[i], dtype=np.float64)
        if face is not None and face.shape == (4,) and np.all(np.isfinite(face)):
            # A little margin: detectors cut faces tight, hair and ears identify too.
            mx, my = 0.15 * (face[2] - face[0]), 0.15 * (face[3] - face[1])
            out.append((face + np.array([-mx, -my, mx, my]), True))
        else:
            x1, y1, x2, y2 = (float(v) for v in person)
            out.append((np.array([x1, y1, x2, y1 + HEAD_FRACTION * (y2 - y1)]), False))
    return out


def draw_label(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    color: tuple[int, int, int],
    scale: float,
    text_color: tuple[int, int, int] = (255, 255, 255),
    min_y: int = 0,
) -> None:
    """Text on a filled badge whose bottom-left corner is ``origin`` (kept inside the image
    and below row ``min_y``, e.g. under the status strip)."""
    thickness = _thickness(scale)
    (tw, th), base = cv2.getTextSize(text, FONT, scale, thickness)
    x = int(min(max(0, origin[0]), max(0, image.shape[1] - tw - 4)))
    y = int(min(max(min_y + th + base + 2, origin[1]), image.shape[0] - 1))
    cv2.rectangle(image, (x, y - th - base - 2), (x + tw + 4, y), color, cv2.FILLED)
    cv2.putText(image, text, (x + 2, y - base), FONT, scale, text_color, thickness, cv2.LINE_AA)


def _valence(value: object) -> Valence:
    try:
        return Valence(str(value))
    except ValueError:
        return Valence.UNKNOWN


def _fmt_wait(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _strip_height(scale: float) -> int:
    (_, th), base = cv2.getTextSize("Ag", FONT, scale, _thickness(scale))
    return th + base + 8


def _draw_zones(
    image: np.ndarray,
    zones: Sequence[ZoneConfig],
    state: EngineState | None,
    scale: float,
    min_y: int = 0,
) -> None:
    if not zones:
        return
    tint = image.copy()
    for zone in zones:
        pts = np.round(np.asarray(zone.polygon, dtype=np.float64)).astype(np.int32)
        cv2.fillPoly(tint, [pts], ZONE_COLORS[zone.kind])
    cv2.addWeighted(tint, 0.18, image, 0.82, 0, dst=image)
    for zone in zones:
        pts = np.round(np.asarray(zone.polygon, dtype=np.float64)).astype(np.int32)
        color = ZONE_COLORS[zone.kind]
        cv2.polylines(image, [pts], True, color, max(2, int(scale * 3)))
        text = zone.name
        if state is not None:  # words a manager reads at a glance, no codes
            if zone.name in state.queue_length:
                waits = state.queue_waits.get(zone.name, {})
                text += f": {state.queue_length[zone.name]} waiting"
                if waits:
                    text += f" (longest {_fmt_wait(max(waits.values()))})"
            else:
                text += f": {state.zone_occupancy.get(zone.name, 0)}"
        top = pts[np.argmin(pts[:, 1])]
        draw_label(image, text, (int(top[0]), int(top[1]) - 2), color, scale, min_y=min_y)


def _draw_lines(
    image: np.ndarray,
    lines: Sequence[LineConfig],
    state: EngineState | None,
    scale: float,
    min_y: int = 0,
) -> None:
    for line in lines:
        start = np.asarray(line.start, dtype=np.float64)
        end = np.asarray(line.end, dtype=np.float64)
        p1, p2 = tuple(np.round(start).astype(int)), tuple(np.round(end).astype(int))
        cv2.line(image, p1, p2, LINE_COLOR, max(2, int(scale * 4)), cv2.LINE_AA)
        # An arrow from the middle towards the "in" side: right of start->end on screen.
        direction = (end - start) / max(1e-9, float(np.hypot(*(end - start))))
        normal = np.array([-direction[1], direction[0]])
        mid = (start + end) / 2
        tip = mid + normal * 25 * scale / 0.4
        cv2.arrowedLine(
            image,
            tuple(np.round(mid).astype(int)),
            tuple(np.round(tip).astype(int)),
            LINE_COLOR,
            max(1, int(scale * 3)),
            cv2.LINE_AA,
            tipLength=0.35,
        )
        text = line.name
        if state is not None:
            text += (
                f": {state.line_in.get(line.name, 0)} in, {state.line_out.get(line.name, 0)} out"
            )
        origin = (min(p1[0], p2[0]), min(p1[1], p2[1]) - 4)
        draw_label(image, text, origin, LINE_COLOR, scale, (0, 0, 0), min_y=min_y)


def _draw_people(image: np.ndarray, detections: Detections, scale: float) -> None:
    thickness = max(1, int(scale * 4))
    faces = detections.data.get("face_xyxy")
    valences = detections.data.get("valence")
    for i in range(len(detections)):
        box = clip_box(detections.xyxy[i], image.shape)
        if box is None:
            continue
        track_id = int(detections.tracker_id[i])
        color = UNTRACKED_COLOR if track_id == NO_TRACK else PERSON_COLOR
        # No track number on the box: it means nothing to a manager (the box colour says
        # tracked or not), and the tile is the same picture for every role.
        cv2.rectangle(image, box[:2], box[2:], color, thickness)
        face = None if faces is None else clip_box(np.asarray(faces[i], np.float64), image.shape)
        if face is None:
            continue
        valence = _valence(valences[i]) if valences is not None else Valence.UNKNOWN
        face_color = VALENCE_COLORS[valence]
        cv2.rectangle(image, face[:2], face[2:], face_color, max(1, thickness - 1))
        # Only a reading in words: "satisfied", "neutral", "frustrated". No model label or
        # score ("unknown 0.00", "Sad 0.41" read as a verdict on a person, and are noise).
        if valence is Valence.UNKNOWN:
            continue
        draw_label(
            image, str(valence), (face[0], face[3] + int(20 * scale / 0.4)), face_color, scale
        )


def _draw_status(image: np.ndarray, status: CameraStatus | None, scale: float) -> None:
    if status is None:
        return
    thickness = _thickness(scale)
    (_, th), base = cv2.getTextSize("Ag", FONT, scale, thickness)
    height = _strip_height(scale)
    cv2.rectangle(image, (0, 0), (image.shape[1], height), STRIP_COLOR, cv2.FILLED)
    state_color = STATE_COLORS.get(status.state, STATE_COLORS[CameraState.OFFLINE])
    radius = max(3, th // 2)
    cv2.circle(image, (6 + radius, height // 2), radius, state_color, cv2.FILLED, cv2.LINE_AA)
    # Name and state in words; frame rates and dropped frames are for the admin's status
    # badges on the Live page, not for the picture every manager watches.
    # (OpenCV's Hershey font has ASCII only: no "·".)
    text = f"{status.name or status.camera_id}: {STATE_WORDS.get(status.state, 'offline')}"
    cv2.putText(
        image,
        text,
        (12 + 2 * radius, height - base - 3),
        FONT,
        scale,
        (255, 255, 255),
        thickness,
        cv2.LINE_AA,
    )


def draw_overlay(
    image: np.ndarray,
    detections: Detections,
    *,
    lines: Sequence[LineConfig] = (),
    zones: Sequence[ZoneConfig] = (),
    engine_state: EngineState | None = None,
    status: CameraStatus | None = None,
) -> np.ndarray:
    """A new annotated BGR image; ``image`` and ``detections`` are left untouched.

    Draws only: the caller blurs first (display.compose_tile)."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"draw_overlay needs a BGR uint8 image, got {image.shape} {image.dtype}")
    out = image.copy()
    scale = text_scale(out)
    # Labels stay below the status strip, which would cover them.
    top = _strip_height(scale) if status is not None else 0
    _draw_zones(out, zones, engine_state, scale, top)
    _draw_lines(out, lines, engine_state, scale, top)
    _draw_people(out, detections, scale)
    _draw_status(out, status, scale)
    return out


def encode_jpeg(
    image: np.ndarray, quality: int = 75, frame_size: tuple[int, int] | None = None
) -> bytes:
    """JPEG bytes for a tile or an MJPEG stream; with ``frame_size`` (width, height of the
    camera frame the tile was scaled from) a comment that Setup reads
    (:mod:`storelens.kernel.frame_size`), since lines and zones are in frame pixels."""
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality {quality} out of range; use 1..100")
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError(f"could not encode a {image.shape} {image.dtype} image as JPEG")
    jpeg = buffer.tobytes()
    return jpeg if frame_size is None else with_frame_size(jpeg, *frame_size)
