"""INT8 post-training quantisation of the person model (OpenVINO NNCF), measured, not shipped.

    .venv/bin/pip install nncf   # not a StoreLens dependency: only this measurement needs it
    .venv/bin/python benchmarks/bench_int8.py [--calibration 120] [--rounds 5]

Calibrates on frames of ../shared/media (every other frame; the rest are for measuring),
then reports, on the held-back frames: person boxes of FP32 found again by INT8 (IoU ≥ 0.5),
boxes INT8 adds, and ms per inference for both, interleaved (A, B, A, B …) so machine noise
hits both alike. Same input shape as the product (416×256 for the 480×270 clips).
"""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
from footage import SHARED_CLIPS, box_iou, clip_frames
from storelens.detectors.persons import PersonDetector, input_shape


def main() -> None:
    import nncf

    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    images = [image for clip in SHARED_CLIPS for image in clip_frames(clip)]
    calibration, held_back = images[::2], images[1::2]
    fp32 = PersonDetector("openvino", 416)
    boxes = fp32._boxes
    assert boxes is not None
    shape = input_shape(*images[0].shape[:2], 416)

    def blob(image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        scale = min(shape[1] / w, shape[0] / h)
        nh, nw = round(h * scale), round(w * scale)
        canvas = np.full((*shape, 3), 114, np.uint8)
        top, left = (shape[0] - nh) // 2, (shape[1] - nw) // 2
        canvas[top : top + nh, left : left + nw] = cv2.resize(image, (nw, nh))
        return (
            np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32)
            / 255
        )

    model = boxes._boxes_only.clone()
    model.reshape({0: [1, 3, *shape]})
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration, blob),
        preset=nncf.QuantizationPreset.MIXED,
        subset_size=len(calibration),
    )
    int8_boxes = PersonDetector.__new__(PersonDetector)
    int8_boxes.__dict__.update(fp32.__dict__)
    adapter = type(boxes).__new__(type(boxes))
    adapter.__dict__.update(boxes.__dict__)
    adapter._boxes_only = quantized
    adapter._compiled = {}
    import threading

    adapter._local = threading.local()
    int8_boxes._boxes = adapter

    found = total = extra = 0
    for image in held_back:
        a = fp32.detect(image).xyxy
        b = int8_boxes.detect(image).xyxy
        total += len(a)
        if len(a) and len(b):
            matched = box_iou(a, b).max(axis=1) >= 0.5
            found += int(matched.sum())
            extra += max(0, len(b) - int(matched.sum()))
        else:
            extra += len(b)
    times: dict[str, list[float]] = {"fp32": [], "int8": []}
    probe = held_back[:40]
    for _ in range(args.rounds):
        for name, detector in (("fp32", fp32), ("int8", int8_boxes)):
            t = time.perf_counter()
            for image in probe:
                detector.detect(image)
            times[name].append((time.perf_counter() - t) / len(probe) * 1000)
    fp, q = statistics.median(times["fp32"]), statistics.median(times["int8"])
    print(
        f"held-back frames: {len(held_back)}; FP32 boxes {total}, found again by INT8 {found} "
        f"({100 * found / max(1, total):.1f} %), INT8 adds {extra}"
    )
    print(
        f"ms per frame (median of {args.rounds} interleaved rounds): FP32 {fp:.1f}, INT8 {q:.1f}, "
        f"ratio {fp / q:.2f}x"
    )


if __name__ == "__main__":
    main()
