"""The `storelens` command as a user runs it: a real subprocess of the installed entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STORELENS, *args], capture_output=True, text=True, timeout=timeout)


def test_help_lists_the_subcommands() -> None:
    out = run("--help")
    assert out.returncode == 0
    for command in ("up", "pipeline", "models", "analyze", "expression", "bench"):
        assert command in out.stdout


def test_models_verify_passes_offline() -> None:
    out = run("models", "verify")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("ok ") == 5  # 4 downloaded models + the shipped valence head


def test_analyze_json_is_one_object_with_the_documented_keys(shared_media: Path) -> None:
    out = run(
        "analyze", str(shared_media / "head-pose-face-detection-female-and-male.gif"), "--json"
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)  # exactly one JSON document on stdout
    for key in (
        "frames",
        "analysed_fps",
        "person_tracks",
        "max_people",
        "faces_read",
        "expressions",
        "crossings_in",
        "crossings_out",
    ):
        assert key in summary
    assert summary["frames"] == 56 and summary["person_tracks"] == 2
    assert summary["faces_read"] > 0  # two faces close to the camera
    assert set(summary["expressions"]) >= {"satisfied", "neutral", "frustrated"}


def test_expression_json_on_a_photo(ultralytics_assets: Path) -> None:
    out = run("expression", str(ultralytics_assets / "zidane.jpg"), "--json")
    assert out.returncode == 0, out.stderr
    faces = json.loads(out.stdout)["faces"]
    assert len(faces) == 2
    for face in faces:
        assert len(face["box"]) == 4
        assert face["valence"] in {"satisfied", "neutral", "frustrated", "unknown"}
        assert 0.0 <= face["confidence"] <= 1.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--line", "1,2,3"], "expected x1,y1,x2,y2"),
        (["--zone", "q=1,2,3,4"], "≥ 3 points"),
        (["--line", "5,5,5,5"], "start and end are the same point"),
    ],
)
def test_bad_geometry_is_refused_with_the_fix(args, message, shared_media: Path) -> None:
    out = run("analyze", str(shared_media / "people-detection.gif"), *args)
    assert out.returncode == 2
    assert message in out.stderr


def test_missing_clip_is_named(tmp_path: Path) -> None:
    out = run("analyze", str(tmp_path / "nope.mp4"))
    assert out.returncode == 2 and "nope.mp4" in out.stderr
