"""``--device`` for the person model (issue 21): a device that is not here is refused at
start with a message naming it and the fix, exit 2, before any model loads.

This machine has no GPU, so the refusals are what runs here; on a GPU machine the matching
test is skipped (the device is there, nothing to refuse) and the CPU run still runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from storelens.detectors.devices import check_device
from storelens.detectors.errors import DeviceNotAvailable
from storelens.detectors.persons import PersonDetector
from storelens.kernel.config import ModelsConfig

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


def _cuda_here() -> bool:
    import torch

    return torch.cuda.is_available()


def _openvino_gpu_here() -> bool:
    import openvino as ov

    return any(d.startswith("GPU") for d in ov.Core().available_devices)


def analyze(clip: Path, device: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STORELENS, "analyze", str(clip), "--no-faces", "--json", "--device", device],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.skipif(_cuda_here(), reason="a CUDA GPU is here: there is nothing to refuse")
def test_cuda_without_a_gpu_is_refused_with_the_fix(shared_media: Path) -> None:
    out = analyze(shared_media / "people-detection.gif", "cuda")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "device cuda" in out.stderr and "choose device cpu" in out.stderr
    assert out.stdout == ""  # nothing analysed, no JSON


@pytest.mark.skipif(_openvino_gpu_here(), reason="OpenVINO finds a GPU here: nothing to refuse")
def test_openvino_gpu_without_a_gpu_is_refused_with_the_fix(shared_media: Path) -> None:
    out = analyze(shared_media / "people-detection.gif", "openvino-gpu")
    assert out.returncode == 2, out.stdout + out.stderr
    assert "OpenVINO finds no GPU" in out.stderr and "devices: CPU" in out.stderr


def test_unknown_device_is_refused_naming_the_choices(shared_media: Path) -> None:
    out = analyze(shared_media / "people-detection.gif", "tpu")
    assert out.returncode == 2
    assert "unknown device 'tpu'" in out.stderr and "cuda[:N]" in out.stderr


def test_cpu_runs(shared_media: Path) -> None:
    out = analyze(shared_media / "people-detection.gif", "cpu")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["max_people"] == 1


def test_the_detector_checks_before_loading() -> None:
    # The pipeline's path (models.person_device in the store config) meets the same check.
    config = ModelsConfig(person_device="cuda:3")
    if _cuda_here():
        pytest.skip("a CUDA GPU is here: cuda:3 may exist")
    with pytest.raises(DeviceNotAvailable, match="cuda:3"):
        PersonDetector(device=config.person_device)
    with pytest.raises(DeviceNotAvailable, match="unknown device"):
        check_device("gpu")
