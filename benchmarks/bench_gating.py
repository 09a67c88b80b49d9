"""How good are the boxes on frames the person detector skipped? (issue 12, detectors/gating.py)

    .venv/bin/python benchmarks/bench_gating.py [--every-k 2] [--still-max-skip 12]

Each shared clip runs once through the real per-camera pipeline (persons only) at its own
frame rate. On every frame the gate skipped, the detector also runs here, outside the
pipeline, and the tracker's predicted boxes are matched against what it finds (IoU ≥ 0.5).
Prints per clip: share of frames detected, predicted boxes matched, detector boxes missed
by the prediction, mean IoU of the matches.
"""

from __future__ import annotations

import argparse

import numpy as np
from footage import SHARED_CLIPS, box_iou
from storelens.detectors.media import shared_clip
from storelens.detectors.persons import PersonDetector
from storelens.detectors.pipeline import CameraPipeline
from storelens.detectors.shared_models import PipelineOptions, SharedModels
from storelens.detectors.sources import open_source
from storelens.detectors.types import Frame
from storelens.kernel.config import CameraConfig


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--every-k", type=int, default=PipelineOptions().detect_every_k)
    parser.add_argument("--still-max-skip", type=int, default=PipelineOptions().still_max_skip)
    args = parser.parse_args()
    detector = PersonDetector("openvino", 416)
    options = PipelineOptions(
        faces=False, workers=1, detect_every_k=args.every_k, still_max_skip=args.still_max_skip
    )
    print(f"every_k={args.every_k} still_max_skip={args.still_max_skip}")
    print(f"{'clip':<46} {'detected':>8} {'matched':>8} {'missed':>7} {'mean IoU':>8}")
    totals = np.zeros(4)
    for clip in SHARED_CLIPS:
        camera = CameraConfig(camera_id="g", name="g", source=str(shared_clip(clip)))
        pipeline = CameraPipeline(camera, SharedModels(person=detector), options)
        source = open_source(camera.source, realtime=False, loop=False)
        fps = source.fps or 12.5
        predicted = matched = missed = frames = 0
        ious: list[float] = []
        index = 0
        while (image := source.read()) is not None:
            result = pipeline.analyse(Frame("g", index / fps, index, image))
            index += 1
            frames += 1
            if result.detected:
                continue
            truth = detector.detect(image).xyxy
            boxes = result.detections.xyxy
            predicted += len(boxes)
            if len(boxes) and len(truth):
                overlap = box_iou(boxes, truth)
                best = overlap.max(axis=1)
                matched += int((best >= 0.5).sum())
                ious += best[best >= 0.5].tolist()
                missed += int((overlap.max(axis=0) < 0.5).sum())
            else:
                missed += len(truth)
        source.close()
        share = pipeline.gate.detected / max(1, frames)
        print(
            f"{clip:<46} {100 * share:>7.0f}% {matched:>4}/{predicted:<4} {missed:>6} "
            f"{np.mean(ious) if ious else float('nan'):>8.3f}"
        )
        totals += (pipeline.gate.detected, frames, matched, predicted)
    print(
        f"all clips: person model on {100 * totals[0] / totals[1]:.0f} % of frames; "
        f"{100 * totals[2] / max(1, totals[3]):.1f} % of predicted boxes match a detection"
    )


if __name__ == "__main__":
    main()
