"""``storelens bench``: our runner against a plain loop, same footage, same run.

*Ours*, at the product defaults: N looping cameras (capture paced at each file's frame
rate, newest frame only), one shared OpenVINO person model at the frame's aspect, run on
every 2nd frame while the scene moves (tracker prediction between, detectors/gating.py),
per-camera ByteTrack, faces searched in person boxes, expressions every k-th detection
per track, events; tiles drawn and encoded on every captured frame by the display thread.
*Baseline*: the loop most tutorials write — per camera a PyTorch ``YOLO.track``
on every frame, then face detection and an expression read for every person on
every frame, no drawing. Both report analysed camera-frames per second.

Issue 21 adds the figures a store-sized run needs: per-camera analysed fps (min and
median: fair degradation shows as min ≈ median), RSS sampled every half second (start,
end, peak), how many cameras' health records say "degraded", and ``scene="busy"``:
every camera plays the most crowded shared clip (classroom.gif: 4 people and 4 faces
in every frame, against 2.7 people and ~0 faces a frame in store-aisle-detection.gif).
"""

from __future__ import annotations

import itertools
import resource
import statistics
import threading
import time
from typing import Any

import cv2
from storelens.detectors.demo import _DEMO_CAMERAS, demo_config
from storelens.detectors.devices import check_device
from storelens.detectors.errors import MediaNotFound
from storelens.detectors.media import shared_clip
from storelens.detectors.runner import Runner
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.kernel.config import CameraConfig, StoreLensConfig


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


SCENES = ("demo", "busy")
BUSY_CLIP = "classroom.gif"  # the most people per frame of ../shared/media (see above)


class _RssSampler:
    """Resident memory every ``every_s`` seconds in a thread: the peak over the window."""

    def __init__(self, every_s: float = 0.5) -> None:
        self.peak = _rss_mb()
        self._every = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> _RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.peak = max(self.peak, _rss_mb())


def bench_config(cameras: int, scene: str = "demo") -> StoreLensConfig:
    """``cameras`` looping cameras: the demo store's cameras in turn, or (``busy``) all
    playing the most crowded shared clip, with the first demo camera's lines and zones."""
    if scene not in SCENES:
        raise ValueError(f"unknown bench scene {scene!r}; choose one of {', '.join(SCENES)}")
    base = demo_config(max_cameras=len(_DEMO_CAMERAS))
    if not base.cameras or not shared_clip(_DEMO_CAMERAS[0][1]).is_file():
        raise MediaNotFound("bench needs ../shared/media (the shared clips)")
    sources = itertools.cycle(base.cameras)
    if scene == "busy":
        busy = base.cameras[0].model_copy(update={"source": str(shared_clip(BUSY_CLIP))})
        sources = itertools.repeat(busy)
    cams = [
        CameraConfig(
            **{**cam.model_dump(), "camera_id": f"bench-{i + 1}", "name": f"bench {i + 1}"}
        )
        for i, cam in zip(range(cameras), sources, strict=False)
    ]
    return StoreLensConfig(cameras=cams)


def run_ours(
    config: StoreLensConfig,
    seconds: float,
    warmup_s: float = 5.0,
    options: PipelineOptions | None = None,
) -> dict[str, Any]:
    options = options or PipelineOptions()
    runner = Runner(config, sink=None, options=options)
    precision_run = getattr(runner.models.person, "precision", "fp32")
    runner.start()
    time.sleep(warmup_s)
    rss_start = _rss_mb()
    before = sum(runner.frames_analysed.values())
    per_cam_before = dict(runner.frames_analysed)
    shown_before = sum(runner.frames_shown.values())
    captured_before = sum(w.frames_captured for w in runner.workers.values())
    gates_before = [(p.gate.detected, p.gate.skipped) for p in runner.pipelines.values()]
    cpu_before = _cpu_s()
    t0 = time.monotonic()
    with _RssSampler() as rss:
        time.sleep(seconds)
    elapsed = time.monotonic() - t0
    cpu_cores = (_cpu_s() - cpu_before) / elapsed
    after = sum(runner.frames_analysed.values())
    shown = sum(runner.frames_shown.values()) - shown_before
    captured_in_window = sum(w.frames_captured for w in runner.workers.values()) - captured_before
    detected = sum(
        p.gate.detected - d
        for p, (d, _) in zip(runner.pipelines.values(), gates_before, strict=True)
    )
    skipped = sum(
        p.gate.skipped - k
        for p, (_, k) in zip(runner.pipelines.values(), gates_before, strict=True)
    )
    per_cam = {
        cid: (runner.frames_analysed[cid] - per_cam_before.get(cid, 0)) / elapsed
        for cid in runner.pipelines
    }
    stages: dict[str, list[float]] = {}
    for pipeline in runner.pipelines.values():
        for stage, values in pipeline.stage_ms.items():
            stages.setdefault(stage, []).extend(values)
    captured = sum(w.frames_captured for w in runner.workers.values())
    dropped = sum(w.status().dropped_frames for w in runner.workers.values())
    rss_end = _rss_mb()
    statuses = [runner._status_with_fps(cid) for cid in runner.workers]
    runner.stop()
    fps = sorted(per_cam.values())
    display_ms = list(runner.display_ms)
    return {
        "camera_frames_per_s": round((after - before) / elapsed, 2),
        "captured_frames_per_s": round(captured_in_window / elapsed, 2),
        "tile_frames_per_s": round(shown / elapsed, 2),
        "tile_ms_median": round(statistics.median(display_ms), 2) if display_ms else None,
        "person_detector_share": round(detected / max(1, detected + skipped), 3),
        "cpu_cores_used": round(cpu_cores, 2),
        "per_camera_fps": {k: round(v, 2) for k, v in per_cam.items()},
        "per_camera_fps_min": round(fps[0], 2) if fps else None,
        "per_camera_fps_median": round(statistics.median(fps), 2) if fps else None,
        # Cameras whose health record (CameraStatus, the tile server's /status) says
        # "degraded": analysed below 90 % of their capture rate (capped at the options').
        "cameras_degraded": sum(1 for s in statuses if s.degraded),
        "stage_ms_median": {k: round(statistics.median(v), 2) for k, v in stages.items() if v},
        "frames_captured": captured,
        "frames_dropped": dropped,
        "errors": sum(runner.errors.values()),
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(rss_end, 1),
        "rss_mb_peak": round(rss.peak, 1),
        "person_precision_run": precision_run,  # int8 asked for but not prepared: fp32
    }


def run_baseline(config: StoreLensConfig, seconds: float, models: SharedModels) -> dict[str, Any]:
    from storelens.detectors.registry import resolve_model
    from storelens.detectors.types import Detections
    from ultralytics import YOLO

    weights = str(resolve_model("yolo11n-person"))
    trackers = [YOLO(weights, task="segment") for _ in config.cameras]
    captures = [cv2.VideoCapture(c.source) for c in config.cameras]
    frames = 0
    t0 = time.monotonic()
    for i in itertools.cycle(range(len(captures))):
        if time.monotonic() - t0 >= seconds:
            break
        ok, image = captures[i].read()
        if not ok:
            captures[i].set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        result = trackers[i].track(image, persist=True, classes=[0], verbose=False)[0]
        boxes = result.boxes
        if boxes is not None and len(boxes) and models.face is not None:
            dets = Detections(
                boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy(), boxes.cls.cpu().numpy()
            )
            dets = models.face.detect(image, dets)
            for face in dets.data.get("face_xyxy", []):
                if models.expression is not None and not (face != face).any():
                    models.expression.read(image, face)
        frames += 1
    elapsed = time.monotonic() - t0
    for cap in captures:
        cap.release()
    return {"camera_frames_per_s": round(frames / elapsed, 2)}


def run_bench(
    cameras: int = 4,
    seconds: float = 30.0,
    baseline: bool = True,
    imgsz: int | None = None,
    expression_reader: str | None = None,
    scene: str = "demo",
    device: str = "cpu",
    precision: str | None = None,
) -> dict[str, Any]:
    """``expression_reader``: a reader name to compare against the default (None);
    ``device``: where the person model runs (detectors/devices.py); ``precision``:
    fp32 | int8 instead of the config's (detectors/int8.py)."""
    check_device(device)
    config = bench_config(cameras, scene)
    config = config.model_copy(
        update={
            "models": config.models.model_copy(
                update={
                    "person_device": device,
                    "person_precision": precision or config.models.person_precision,
                }
            )
        }
    )
    reader = {"expression_reader": expression_reader} if expression_reader else {}
    if imgsz:
        config = config.model_copy(
            update={"models": config.models.model_copy(update={"person_imgsz": imgsz})}
        )
    # The product defaults (issue 12: "at the product default"), only the reader may vary.
    ours = run_ours(config, seconds, options=PipelineOptions(**reader))
    out: dict[str, Any] = {
        "cameras": cameras,
        "scene": scene,
        "device": device,
        "precision": config.models.person_precision,
        "expression_reader": expression_reader or PipelineOptions().expression_reader,
        "imgsz": config.models.person_imgsz,
        "seconds": seconds,
        "ours": ours,
        "camera_frames_per_s": ours["camera_frames_per_s"],
    }
    if baseline:
        options = PipelineOptions(**reader)
        models = SharedModels.load(config, options)
        try:
            base = run_baseline(config, seconds, models)
        finally:
            models.close()
        out["baseline"] = base
        out["baseline_camera_frames_per_s"] = base["camera_frames_per_s"]
        out["speedup"] = round(
            ours["camera_frames_per_s"] / max(base["camera_frames_per_s"], 1e-6), 2
        )
    return out


def format_table(result: dict[str, Any]) -> str:
    ours = result["ours"]
    lines = [
        f"cameras: {result['cameras']} ({result.get('scene', 'demo')} scene)   "
        f"measured: {result['seconds']} s per mode",
        "",
        "stage          median ms",
    ]
    lines += [f"{stage:<14} {ms:>9.2f}" for stage, ms in ours["stage_ms_median"].items()]
    lines += [
        "",
        f"ours      camera-frames/s: {ours['camera_frames_per_s']:.1f}  per camera min / median: "
        f"{ours['per_camera_fps_min']} / {ours['per_camera_fps_median']} fps   "
        f"cameras degraded: {ours['cameras_degraded']}",
        f"          captured frames/s: {ours['captured_frames_per_s']:.1f}   tiles/s: "
        f"{ours['tile_frames_per_s']:.1f} ({ours['tile_ms_median']} ms each)   person model on "
        f"{100 * ours['person_detector_share']:.0f} % of frames   CPU cores used: {ours['cpu_cores_used']}",
    ]
    if "baseline" in result:
        lines.append(f"baseline  camera-frames/s: {result['baseline_camera_frames_per_s']:.1f}")
        lines.append(f"speed-up: {result['speedup']:.2f}x")
    lines.append(
        f"RSS MB start/end/peak: {ours['rss_mb_start']} / {ours['rss_mb_end']} / "
        f"{ours['rss_mb_peak']}   "
        f"captured {ours['frames_captured']}, dropped {ours['frames_dropped']}, errors {ours['errors']}"
    )
    return "\n".join(lines)
