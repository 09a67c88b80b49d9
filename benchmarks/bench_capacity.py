"""Store capacity, INT8 against FP32: ``storelens bench`` runs in interleaved pairs.

    .venv/bin/python benchmarks/bench_capacity.py --cameras 16 --scene demo --runs 3

Each pair runs the product defaults with the person model in FP32 and then in INT8
(``--precision``), one subprocess each, so a noisy shared machine hits both alike;
prints every run, the medians, and the median of the per-pair ratios INT8 / FP32.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))
KEYS = (
    "camera_frames_per_s",
    "captured_frames_per_s",
    "tile_frames_per_s",
    "per_camera_fps_min",
    "per_camera_fps_median",
    "cpu_cores_used",
    "rss_mb_start",
    "rss_mb_end",
    "rss_mb_peak",
    "cameras_degraded",
)


def bench(cameras: int, scene: str, seconds: float, precision: str) -> dict:
    out = subprocess.run(
        [
            STORELENS,
            "bench",
            "--cameras",
            str(cameras),
            "--scene",
            scene,
            "--seconds",
            str(seconds),
            "--no-baseline",
            "--precision",
            precision,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])["ours"]
    if result["person_precision_run"] != precision:
        sys.exit(f"asked for {precision}, ran {result['person_precision_run']}: run prepare")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--scene", default="demo", choices=("demo", "busy"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[dict]] = {"fp32": [], "int8": []}
    for i in range(args.runs):
        for precision in ("fp32", "int8"):
            r = bench(args.cameras, args.scene, args.seconds, precision)
            runs[precision].append(r)
            load = os.getloadavg()[0]
            print(
                f"run {i + 1} {precision}: "
                + "  ".join(f"{k}={r[k]}" for k in KEYS)
                + f"  load={load:.1f}",
                flush=True,
            )
    for precision, rs in runs.items():
        print(
            f"median {precision}: "
            + "  ".join(f"{k}={statistics.median(r[k] for r in rs)}" for k in KEYS)
        )
    ratios = [
        q["camera_frames_per_s"] / max(f["camera_frames_per_s"], 1e-6)
        for f, q in zip(runs["fp32"], runs["int8"], strict=True)
    ]
    print(
        f"int8 / fp32 analysed camera-frames/s, per pair: {[round(x, 2) for x in ratios]}, "
        f"median {statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
