"""Offline analysis of one clip as fast as possible (``storelens analyze``).

Time inside the clip is *video* time (frame index / the file's frame rate), so
dwell, the 1-second minimum track length and the crossing rules behave as they
would live, however fast the machine decodes.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any

from storelens.detectors.devices import check_device
from storelens.detectors.pipeline import CameraPipeline
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.detectors.sources import open_source
from storelens.detectors.types import NO_TRACK, Frame, TrackEvent, Valence
from storelens.kernel.config import (
    CameraConfig,
    LineConfig,
    ModelsConfig,
    StoreLensConfig,
    ZoneConfig,
)


@dataclass
class AnalysisSummary:
    """What ``storelens analyze`` found in one clip: counts, tracks and per-stage timing."""

    frames: int = 0
    seconds: float = 0.0
    analysed_fps: float = 0.0
    person_tracks: int = 0
    max_people: int = 0
    faces_read: int = 0
    expressions: dict[str, int] = field(default_factory=dict)
    crossings_in: int = 0
    crossings_out: int = 0
    zone_visits: dict[str, int] = field(default_factory=dict)
    stage_ms: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "video_seconds": round(self.seconds, 2),
            "analysed_fps": round(self.analysed_fps, 2),
            "person_tracks": self.person_tracks,
            "max_people": self.max_people,
            "faces_read": self.faces_read,
            "expressions": self.expressions,
            "crossings_in": self.crossings_in,
            "crossings_out": self.crossings_out,
            "zone_visits": self.zone_visits,
            "stage_ms": self.stage_ms,
        }


def analyze_clip(
    path: str,
    lines: list[LineConfig] | None = None,
    zones: list[ZoneConfig] | None = None,
    *,
    options: PipelineOptions | None = None,
    models: SharedModels | None = None,
    min_track_s: float = 1.0,
    device: str = "cpu",
) -> AnalysisSummary:
    """Run the full per-camera pipeline over every frame of ``path`` once.

    ``device``: where the person model runs (detectors/devices.py), when ``models`` is None.
    """
    options = options or PipelineOptions(workers=1)
    if models is None:
        check_device(device)  # a clear error before any model loads, not a pydantic one
    camera = CameraConfig(
        camera_id="analyze",
        name="analyze",
        source=str(path),
        realtime=False,
        loop=False,
        lines=lines or [],
        zones=zones or [],
    )
    config = StoreLensConfig(cameras=[camera], models=ModelsConfig(person_device=device))
    owns_models = models is None
    models = models or SharedModels.load(config, options)
    pipeline = CameraPipeline(camera, models, options)
    source = open_source(str(path), realtime=False, loop=False)
    fps = source.fps if source.fps and source.fps > 0 else 10.0
    track_span: dict[int, list[float]] = {}
    track_valence: dict[int, str] = {}
    summary = AnalysisSummary()
    crossings = collections.Counter()
    visits = collections.Counter()
    start = time.perf_counter()
    try:
        while (image := source.read()) is not None:
            ts = summary.frames / fps
            result = pipeline.analyse(Frame("analyze", ts, summary.frames, image))
            summary.frames += 1
            dets = result.detections
            summary.max_people = max(summary.max_people, len(dets))
            for tid in dets.tracker_id.tolist():
                if tid != NO_TRACK:
                    span = track_span.setdefault(tid, [ts, ts])
                    span[1] = ts
            if "valence" in dets.data:
                for tid, valence in zip(
                    dets.tracker_id.tolist(), dets.data["valence"].tolist(), strict=True
                ):
                    if tid != NO_TRACK and valence != Valence.UNKNOWN:
                        track_valence[tid] = valence
            for event in result.events:
                if event.kind is TrackEvent.ZONE_EXIT and event.zone:
                    visits[event.zone] += 1
            if summary.frames % 100 == 0:
                pipeline.drain()  # rows are not kept offline; only the counts above
    finally:
        source.close()
        if owns_models:
            models.close()
    wall = time.perf_counter() - start
    final = pipeline.engine.finish(summary.frames / fps)
    for event in final:
        if event.kind is TrackEvent.ZONE_EXIT and event.zone:
            visits[event.zone] += 1
    state = pipeline.engine.state
    crossings["in"] = sum(state.line_in.values())
    crossings["out"] = sum(state.line_out.values())
    summary.faces_read = pipeline.faces_read
    summary.seconds = summary.frames / fps
    summary.analysed_fps = summary.frames / wall if wall > 0 else 0.0
    summary.person_tracks = sum(1 for a, b in track_span.values() if b - a >= min_track_s)
    summary.expressions = {
        str(v): 0 for v in (Valence.SATISFIED, Valence.NEUTRAL, Valence.FRUSTRATED)
    }
    for valence in track_valence.values():
        summary.expressions[valence] = summary.expressions.get(valence, 0) + 1
    summary.crossings_in, summary.crossings_out = crossings["in"], crossings["out"]
    summary.zone_visits = dict(visits)
    summary.stage_ms = {k: round(sum(v) / len(v), 2) for k, v in pipeline.stage_ms.items() if v}
    return summary
