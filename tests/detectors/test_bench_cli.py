"""``storelens bench`` at store size (issue 21): 16 cameras, the figures the README table
quotes, and bad options refused. Speeds are printed, never asserted here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STORELENS, "bench", *args], capture_output=True, text=True, timeout=600)


def test_sixteen_cameras_print_every_figure(shared_media: Path) -> None:
    out = bench("--cameras", "16", "--seconds", "5", "--no-baseline", "--json")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    ours = result["ours"]
    assert result["cameras"] == 16 and result["scene"] == "demo"
    assert len(ours["per_camera_fps"]) == 16
    for key in (
        "camera_frames_per_s",
        "captured_frames_per_s",
        "tile_frames_per_s",
        "cpu_cores_used",
        "rss_mb_start",
        "rss_mb_end",
    ):
        assert ours[key] > 0, key
    assert ours["per_camera_fps_min"] <= ours["per_camera_fps_median"]
    assert ours["rss_mb_peak"] >= max(ours["rss_mb_start"], ours["rss_mb_end"])
    assert 0 <= ours["cameras_degraded"] <= 16
    assert ours["errors"] == 0


def test_more_cameras_than_the_config_takes_are_refused() -> None:
    out = bench("--cameras", "65", "--no-baseline")
    assert out.returncode == 2
    assert "--cameras" in out.stderr and "64" in out.stderr


def test_unknown_scene_and_precision_are_refused() -> None:
    out = bench("--scene", "crowded", "--no-baseline")
    assert out.returncode == 2 and "demo, busy" in out.stderr
    out = bench("--precision", "fp16", "--no-baseline")
    assert out.returncode == 2 and "fp32 or int8" in out.stderr
