"""Expression reading: what a reading is, and what the pipeline does with it per track.

A reader (:class:`ExpressionReader`; the backends are ``detectors.expression_readers``)
takes a frame and one face box (full-frame pixels) and returns an
:class:`ExpressionReading`: a label, a :class:`Valence` (satisfied / neutral /
frustrated / unknown), a confidence in [0, 1], the backend's raw scores and the
model name, or an abstention (:func:`unknown_reading`, never a guess). Readings are
taken every k-th analysed frame per track, never in staff zones
(:class:`ExpressionScheduler`), read relative to the track's resting face
(:class:`RestingFace`) and smoothed per track (:class:`ExpressionSmoother`);
:func:`annotate_expressions` does all of that for one frame's detections.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from storelens.detectors.faces import FACE_COLUMN, FaceDetector
from storelens.detectors.types import NO_TRACK, UNKNOWN_LABEL, Detections, Valence

# The reason an abstention of the learned reader on a small face gives (its probabilities
# stay with it, so a track's resting-face baseline can still read it: RestingFace).
UNSURE_SMALL_FACE = "unsure_small_face"


def rebaseable(reading: ExpressionReading) -> bool:
    """A reading with calibrated probabilities that a resting-face baseline can read:
    a readable one, or a small face's unsure frustrated one (see ``expression_readers.SMALL_FACE_PX``)."""
    return "p_frustrated" in reading.scores and (
        reading.readable or UNSURE_SMALL_FACE in reading.scores
    )


@dataclass(frozen=True)
class ExpressionReading:
    """One reading of one face. ``scores`` are the backend's raw evidence (blendshape
    values or class confidences); ``confidence`` is in [0, 1]."""

    label: str
    valence: Valence
    confidence: float
    scores: dict[str, float]
    model: str

    @property
    def readable(self) -> bool:
        return self.valence is not Valence.UNKNOWN


def unknown_reading(
    model: str, reason: str, scores: dict[str, float] | None = None
) -> ExpressionReading:
    """An abstention; ``reason`` lands in ``scores`` as a key so it can be counted."""
    return ExpressionReading(
        UNKNOWN_LABEL, Valence.UNKNOWN, 0.0, {reason: 1.0, **(scores or {})}, model
    )


@runtime_checkable
class ExpressionReader(Protocol):
    name: str

    def read(self, image: np.ndarray, face_xyxy: np.ndarray) -> ExpressionReading: ...

    def close(self) -> None: ...


@dataclass
class RestingFace:
    """Per-track resting-face baseline for "frustrated" (issue 17).

    Why: on store cameras some calm shoppers' resting faces (a tired look, lowered
    lids, a tilted head) read as displeased to a head trained on press photos, and
    they do so in every frame: on the shared head-pose clip one calm woman read
    frustrated in 45 of 49 answered frames. What the product needs to know is not
    whether a face looks displeased but whether a shopper *became* displeased. So the
    median P(frustrated) of a track's first ``readings`` readable readings is its
    resting level, and every reading of that track (those first ones too) keeps only
    the P(frustrated) above it (``reader.rebase``). Satisfied is not rebased: a
    shopper who grins all along is satisfied all along.

    The cost, said on the model card: a shopper who is already displeased when first
    seen reads neutral until it gets visibly worse. Readers without calibrated
    probabilities (the old rule, the YOLO classes) pass through unchanged.
    """

    # (reading, resting P(frustrated)) -> reading; None turns the baseline off.
    rebase: Callable[[ExpressionReading, float], ExpressionReading] | None = None
    readings: int = 3
    _seen: dict[int, list[float]] = field(default_factory=dict, repr=False)

    def update(self, track_id: int, reading: ExpressionReading) -> ExpressionReading:
        if self.rebase is None or not rebaseable(reading):
            return reading
        seen = self._seen.setdefault(int(track_id), [])
        if len(seen) < self.readings:
            seen.append(float(reading.scores["p_frustrated"]))
        return self.rebase(reading, float(np.median(seen)))

    def forget(self, track_id: int) -> None:
        self._seen.pop(int(track_id), None)

    def retain(self, active_track_ids: np.ndarray | list[int]) -> None:
        keep = {int(t) for t in active_track_ids}
        for track_id in [t for t in self._seen if t not in keep]:
            del self._seen[track_id]


def resting_face_for(reader: ExpressionReader | None) -> RestingFace:
    """The baseline for ``reader``: active where the reader can rebase a reading."""
    return RestingFace(rebase=getattr(reader, "rebase", None))


@dataclass
class ExpressionSmoother:
    """Per-track smoothing: a confidence-weighted vote over the last ``window`` readings.

    Abstentions are not votes. The result stays UNKNOWN until at least
    ``min_agreeing`` readings share the winning valence and that valence holds at
    least ``min_share`` of the vote weight: one reading is never enough.
    """

    window: int = 5
    min_agreeing: int = 2
    min_share: float = 0.6
    _history: dict[int, deque[ExpressionReading]] = field(default_factory=dict, repr=False)
    _latest: dict[int, ExpressionReading] = field(default_factory=dict, repr=False)

    def update(self, track_id: int, reading: ExpressionReading) -> ExpressionReading:
        history = self._history.setdefault(int(track_id), deque(maxlen=self.window))
        if reading.readable:
            history.append(reading)
        smoothed = self._vote(history, reading.model)
        self._latest[int(track_id)] = smoothed
        return smoothed

    def current(self, track_id: int) -> ExpressionReading | None:
        """The last smoothed reading of a track (None if it was never read)."""
        return self._latest.get(int(track_id))

    def forget(self, track_id: int) -> None:
        self._history.pop(int(track_id), None)
        self._latest.pop(int(track_id), None)

    def retain(self, active_track_ids: np.ndarray | list[int]) -> None:
        """Forget every track not in ``active_track_ids`` (bounded memory)."""
        keep = {int(t) for t in active_track_ids}
        for track_id in [t for t in self._history if t not in keep]:
            self.forget(track_id)

    def _vote(self, history: deque[ExpressionReading], model: str) -> ExpressionReading:
        if not history:
            return unknown_reading(model, "no_readings")
        weights: dict[Valence, float] = {}
        for r in history:
            weights[r.valence] = weights.get(r.valence, 0.0) + max(r.confidence, 1e-3)
        total = sum(weights.values())
        winner = max(weights, key=lambda v: weights[v])
        agreeing = [r for r in history if r.valence is winner]
        share = weights[winner] / total
        vote = {str(v): round(w / total, 4) for v, w in weights.items()}
        if len(agreeing) < self.min_agreeing or share < self.min_share:
            return unknown_reading(model, "no_agreement", vote)
        label = Counter(r.label for r in agreeing).most_common(1)[0][0]
        confidence = share * float(np.mean([r.confidence for r in agreeing]))
        return ExpressionReading(label, winner, round(confidence, 4), vote, model)


@dataclass
class ExpressionScheduler:
    """Which tracks to read this analysed frame.

    Each track is read on its first analysed frame and then every ``every_k``-th;
    tracks in staff zones are never read (privacy: no expression inference behind
    the counter), nor are detections without a track id (a reading that cannot be
    smoothed over several frames would be a guess).
    """

    every_k: int = 3
    _seen: dict[int, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.every_k <= 1000:
            raise ValueError(f"every_k must be in 1..1000, got {self.every_k}")

    def should_read(
        self, tracker_id: np.ndarray, in_staff_zone: np.ndarray | None = None
    ) -> np.ndarray:
        ids = np.asarray(tracker_id, dtype=np.int64).reshape(-1)
        staff = (
            np.zeros(len(ids), bool) if in_staff_zone is None else np.asarray(in_staff_zone, bool)
        )
        if len(staff) != len(ids):
            raise ValueError(f"in_staff_zone has {len(staff)} rows, tracker_id has {len(ids)}")
        out = np.zeros(len(ids), dtype=bool)
        for i, track_id in enumerate(ids.tolist()):
            if track_id == NO_TRACK:
                continue
            count = self._seen.get(track_id, 0)
            self._seen[track_id] = count + 1
            out[i] = count % self.every_k == 0 and not staff[i]
        return out

    def retain(self, active_track_ids: np.ndarray | list[int]) -> None:
        keep = {int(t) for t in active_track_ids}
        for track_id in [t for t in self._seen if t not in keep]:
            del self._seen[track_id]


@dataclass(frozen=True)
class TrackReading:
    """A reading made this frame for one detection row.

    ``reading`` is what the track shows (smoothed; the raw one for rows without a
    track id), ``raw`` is this frame's unsmoothed reading, relative to the track's
    resting face where a :class:`RestingFace` is given. Unpacks as
    ``track_id, reading`` for callers that only want those two.
    """

    track_id: int
    reading: ExpressionReading
    raw: ExpressionReading
    row: int

    def __iter__(self) -> Iterator[object]:
        return iter((self.track_id, self.reading))


EXPRESSION_COLUMN = "expression"
VALENCE_COLUMN = "valence"
EXPRESSION_CONFIDENCE_COLUMN = "expression_confidence"


def annotate_expressions(
    image: np.ndarray,
    detections: Detections,
    reader: ExpressionReader,
    smoother: ExpressionSmoother | None,
    *,
    should_read: np.ndarray,
    resting: RestingFace | None = None,
) -> tuple[Detections, list[TrackReading]]:
    """Read faces where ``should_read`` and add the expression columns.

    Columns: ``expression`` (label), ``valence`` (str) and ``expression_confidence``
    (float32). Rows not read this frame carry their track's last smoothed reading
    (so badges persist between reads), else ``unknown``. Rows without a track id are
    not smoothed: their raw reading is used (still-image CLI). Needs ``face_xyxy``.
    """
    n = len(detections)
    mask = np.asarray(should_read, dtype=bool).reshape(-1)
    if len(mask) != n:
        raise ValueError(f"should_read has {len(mask)} rows, detections have {n}")
    if n and FACE_COLUMN not in detections.data:
        raise ValueError("detections have no 'face_xyxy' column: run a FaceDetector first")
    labels = np.full(n, UNKNOWN_LABEL, dtype=object)
    valences = np.full(n, str(Valence.UNKNOWN), dtype=object)
    confidences = np.zeros(n, dtype=np.float32)
    made: list[TrackReading] = []
    faces = detections.data.get(FACE_COLUMN, np.zeros((0, 4), np.float32))
    for row in range(n):
        track_id = int(detections.tracker_id[row])
        shown: ExpressionReading | None = None
        if mask[row] and np.all(np.isfinite(faces[row])):
            raw = reader.read(image, faces[row])
            if resting is not None and track_id != NO_TRACK:
                raw = resting.update(track_id, raw)
            shown = (
                raw if smoother is None or track_id == NO_TRACK else smoother.update(track_id, raw)
            )
            made.append(TrackReading(track_id, shown, raw, row))
        elif smoother is not None and track_id != NO_TRACK:
            shown = smoother.current(track_id)
        if shown is not None:
            labels[row], valences[row], confidences[row] = (
                shown.label,
                str(shown.valence),
                shown.confidence,
            )
    detections.with_column(EXPRESSION_COLUMN, labels)
    detections.with_column(VALENCE_COLUMN, valences)
    detections.with_column(EXPRESSION_CONFIDENCE_COLUMN, confidences)
    return detections, made


def read_faces_in_image(
    image: np.ndarray, detector: FaceDetector, reader: ExpressionReader
) -> list[dict[str, object]]:
    """Every face anywhere in a still image, each read once, as JSON-ready dicts.

    For ``storelens expression IMAGE [--json]``: ``{"box": [x1, y1, x2, y2],
    "label", "valence", "confidence"}`` per face, most confident face first. No
    smoothing (a photo is one frame), so the reader's own gates are the only guard.
    The photo is searched inside a grey frame: a tight face crop gives the
    detector no context and would otherwise be missed.
    """
    from storelens.detectors.photo import faces_in_photo

    faces = []
    framed, boxes, in_photo = faces_in_photo(image, detector)
    for box, photo_box in zip(boxes, in_photo, strict=True):
        reading = reader.read(framed, box)
        faces.append(
            {
                "box": [round(float(v), 1) for v in photo_box],
                "label": reading.label,
                "valence": str(reading.valence),
                "confidence": round(float(reading.confidence), 3),
            }
        )
    return faces
