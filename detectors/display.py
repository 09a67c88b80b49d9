"""What a live tile shows: every captured frame, with the latest analysis drawn on it.

Before issue 12 a tile showed a frame only once analysis had finished with it, so a
manager saw 3.5–6 fps whenever the CPU was busy. Now the runner's display thread takes
every captured frame (up to ``display_fps`` per camera), draws the newest
:class:`AnalysisSnapshot` of that camera on it and publishes the JPEG, while analysis runs
at its own rate.

**Blur never lags.** The face boxes of a snapshot describe the frame that was analysed,
not the one shown. :func:`privacy_level` decides, from the age of the snapshot relative
to the displayed frame, how much to blur:

* ``FACES`` (snapshot at most :data:`FRESH_S` old): each face box of the snapshot,
  widened by a margin that grows with the snapshot's age, so a face that moved since
  stays inside the blur, and each person's head area (:func:`head_area`);
* ``PEOPLE`` (up to :data:`STALE_S` old): every person box, padded, and its head area;
* ``FRAME`` (older, or no analysis yet): the whole frame, with a note on the tile.

So a frame is never shown with a face uncovered because analysis fell behind. A person
who walks in between two detections is covered once the gate (detectors/gating.py) detects
them, within ``detect_every_k`` frames.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from storelens.detectors.events import EngineState
from storelens.detectors.overlay import (
    blur_region,
    clip_box,
    draw_label,
    draw_overlay,
    privacy_boxes,
    text_scale,
)
from storelens.detectors.types import CameraStatus, Detections
from storelens.kernel.config import LineConfig, ZoneConfig

FRESH_S = 0.25  # a snapshot this recent blurs faces only (a walker moves ~30 px at 480 px)
STALE_S = 0.75  # beyond this, the snapshot's boxes may have lost the people: blur it all
PERSON_PAD = 0.10  # share of a person box added on each side at the PEOPLE level
FACE_PAD_AT_FRESH = 0.45  # extra share of a face box on each side when the snapshot is FRESH_S old
HEAD_SHARE = 0.35  # top share of a person box blurred at the FACES level
HEAD_ABOVE = 0.4  # share of the box height above its top edge, also blurred
FRAME_BLUR_DIVISOR = 48  # whole-frame blur: down to 1/48 and back (a 40 px face -> 1 px)


class PrivacyLevel(enum.StrEnum):
    FACES = "faces"
    PEOPLE = "people"
    FRAME = "frame"


@dataclass(frozen=True, slots=True)
class AnalysisSnapshot:
    """The newest analysis of a camera: what the display thread draws on later frames.

    ``detections`` and ``engine_state`` are never mutated after analysis hands them over
    (each analysed frame makes new ones), so the display thread may read them unlocked.
    """

    ts: float  # capture time of the analysed frame (epoch seconds)
    detections: Detections
    engine_state: EngineState | None = None


def privacy_level(snapshot: AnalysisSnapshot | None, frame_ts: float) -> PrivacyLevel:
    if snapshot is None:
        return PrivacyLevel.FRAME
    age = abs(frame_ts - snapshot.ts)
    if age <= FRESH_S:
        return PrivacyLevel.FACES
    if age <= STALE_S:
        return PrivacyLevel.PEOPLE
    return PrivacyLevel.FRAME


def _pad(box: np.ndarray, share: float) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    mx, my = share * (x2 - x1), share * (y2 - y1)
    return np.array([x1 - mx, y1 - my, x2 + mx, y2 + my])


def head_area(person: np.ndarray) -> np.ndarray:
    """Where a person's head is, generously: the top HEAD_SHARE of the box, from
    HEAD_ABOVE of its height above it, padded sideways by PERSON_PAD."""
    x1, y1, x2, y2 = (float(v) for v in person)
    h, w = y2 - y1, x2 - x1
    return np.array(
        [x1 - PERSON_PAD * w, y1 - HEAD_ABOVE * h, x2 + PERSON_PAD * w, y1 + HEAD_SHARE * h]
    )


def blur_for_display(
    image: np.ndarray, snapshot: AnalysisSnapshot | None, frame_ts: float
) -> PrivacyLevel:
    """Blur ``image`` in place by the rule in the module docstring; returns the level used."""
    level = privacy_level(snapshot, frame_ts)
    if level is PrivacyLevel.FRAME:
        h, w = image.shape[:2]
        small = cv2.resize(
            image,
            (max(1, w // FRAME_BLUR_DIVISOR), max(1, h // FRAME_BLUR_DIVISOR)),
            interpolation=cv2.INTER_AREA,
        )
        image[:] = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        return level
    assert snapshot is not None
    if level is PrivacyLevel.PEOPLE:
        boxes = [_pad(box, PERSON_PAD) for box in snapshot.detections.xyxy]
    else:
        grow = FACE_PAD_AT_FRESH * abs(frame_ts - snapshot.ts) / FRESH_S
        boxes = [_pad(box, grow) for box, _ in privacy_boxes(snapshot.detections)]
    # And every person's head area, whatever the face box says: between two face reads a
    # face box follows its person box, and a person box may start below the head
    # (measured on the head-pose clip: a face up to a third of the box height above it).
    boxes += [head_area(box) for box in snapshot.detections.xyxy]
    for box in boxes:
        clipped = clip_box(box, image.shape)
        if clipped is not None:
            blur_region(image, clipped)
    return level


@dataclass(frozen=True, slots=True)
class TileGeometry:
    """A camera's lines and zones in tile pixels (scaled once per camera and tile size)."""

    lines: tuple[LineConfig, ...]
    zones: tuple[ZoneConfig, ...]

    @classmethod
    def scaled(
        cls, lines: Sequence[LineConfig], zones: Sequence[ZoneConfig], scale: float
    ) -> TileGeometry:
        def pt(p: Sequence[float]) -> tuple[float, float]:
            return (p[0] * scale, p[1] * scale)

        return cls(
            tuple(x.model_copy(update={"start": pt(x.start), "end": pt(x.end)}) for x in lines),
            tuple(z.model_copy(update={"polygon": [pt(v) for v in z.polygon]}) for z in zones),
        )


def scaled_snapshot(snapshot: AnalysisSnapshot | None, scale: float) -> AnalysisSnapshot | None:
    """The snapshot in the pixels of a frame resized by ``scale`` (new arrays; the original
    stays as analysis made it)."""
    if snapshot is None or scale == 1.0:
        return snapshot
    dets = snapshot.detections
    data = dict(dets.data)
    if "face_xyxy" in data:
        data["face_xyxy"] = np.asarray(data["face_xyxy"], dtype=np.float32) * scale
    moved = Detections(dets.xyxy * scale, dets.confidence, dets.class_id, dets.tracker_id, data)
    return AnalysisSnapshot(snapshot.ts, moved, snapshot.engine_state)


def compose_tile(
    image: np.ndarray,
    frame_ts: float,
    snapshot: AnalysisSnapshot | None,
    *,
    lines: Sequence[LineConfig] = (),
    zones: Sequence[ZoneConfig] = (),
    status: CameraStatus | None = None,
) -> np.ndarray:
    """A new BGR tile image: ``image`` blurred by the snapshot's age, then the overlay.

    Always blurred: no option turns it off (StoreLens never shows an unblurred face)."""
    out = image.copy()
    level = blur_for_display(out, snapshot, frame_ts)
    detections = snapshot.detections if snapshot is not None else Detections.empty()
    if level is PrivacyLevel.FRAME:
        detections = Detections.empty()  # boxes from a stale snapshot would mislead
    out = draw_overlay(
        out,
        detections,
        lines=lines,
        zones=zones,
        engine_state=snapshot.engine_state if snapshot is not None else None,
        status=status,
    )
    if level is PrivacyLevel.FRAME:
        scale = text_scale(out)
        note = "waiting for analysis" if snapshot is None else "analysis catching up"
        draw_label(out, note, (8, out.shape[0] - 8), (60, 60, 60), scale)
    return out
