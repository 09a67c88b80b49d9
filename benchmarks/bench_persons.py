"""Person detector back-ends on real frames: median ms per frame and people found.

    .venv/bin/python benchmarks/bench_persons.py [--runs 30] [--sizes 320 416 640]

Compares the direct OpenVINO box adapter (our default) with ultralytics' own
OpenVINO, ONNX Runtime and PyTorch paths, on frames of the shared store clip.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from footage import clip_frames
from storelens.detectors.persons import PersonDetector, prepare_person_model


class UltralyticsOpenVino(PersonDetector):
    """ultralytics' predict on the same OpenVINO export (computes masks and torch NMS)."""

    def __init__(self, imgsz: int) -> None:
        from ultralytics import YOLO

        super().__init__("onnx", imgsz)  # any non-openvino init, then swap the model
        self._boxes = None
        self._model = YOLO(str(prepare_person_model("openvino", imgsz)), task="segment")


def frames(n: int = 20) -> list[np.ndarray]:
    return clip_frames("store-aisle-detection.gif", n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--sizes", type=int, nargs="+", default=[320, 416, 640])
    args = parser.parse_args()
    images = frames()
    print(f"{'backend':<22}{'imgsz':>6}{'median ms':>11}{'p90 ms':>9}{'people/frame':>14}")
    for size in args.sizes:
        for name, make in (
            ("openvino (ours)", lambda s: PersonDetector("openvino", s)),
            ("openvino (ultralytics)", UltralyticsOpenVino),
            ("onnx (ultralytics)", lambda s: PersonDetector("onnx", s)),
            ("torch (ultralytics)", lambda s: PersonDetector("torch", s)),
        ):
            detector = make(size)
            times, people = [], []
            for i in range(args.runs):
                image = images[i % len(images)]
                t = time.perf_counter()
                people.append(len(detector.detect(image)))
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            print(
                f"{name:<22}{size:>6}{statistics.median(times):>11.1f}"
                f"{times[int(0.9 * len(times)) - 1]:>9.1f}{statistics.mean(people):>14.2f}"
            )


if __name__ == "__main__":
    main()
