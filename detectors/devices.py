"""Where the person model runs: ``cpu`` (OpenVINO, the default), ``openvino-gpu`` (OpenVINO's
GPU plugin: Intel integrated or Arc graphics) or ``cuda[:N]`` (an NVIDIA GPU through
ultralytics' PyTorch backend, the one that runs on CUDA).

The device is checked before any model is loaded, so a store configured for a GPU that is
not there stops at start with a message naming the device, what was found and the fix,
instead of failing (or silently running on the CPU) on the first frame.
"""

from __future__ import annotations

import re

from storelens.detectors.errors import DeviceNotAvailable

DEVICE_PATTERN = r"^(cpu|openvino-gpu|cuda(:[0-9]{1,2})?)$"
DEVICE_HELP = "cpu (OpenVINO, default) | openvino-gpu (OpenVINO GPU plugin) | cuda[:N] (PyTorch)"


def backend_for(device: str, backend: str) -> str:
    """The person backend that runs on ``device``: CUDA only through PyTorch."""
    return "torch" if device.startswith("cuda") else backend


def check_device(device: str) -> None:
    """Raise :class:`DeviceNotAvailable` unless ``device`` can run the person model here."""
    if not re.match(DEVICE_PATTERN, device):
        raise DeviceNotAvailable(f"unknown device {device!r}; choose {DEVICE_HELP}")
    if device == "cpu":
        return
    if device == "openvino-gpu":
        import openvino as ov

        found = ov.Core().available_devices
        if not any(name.startswith("GPU") for name in found):
            raise DeviceNotAvailable(
                f"device openvino-gpu: OpenVINO finds no GPU on this machine (devices: "
                f"{', '.join(found) or 'none'}); install the Intel GPU compute runtime "
                "(Debian: intel-opencl-icd) or choose device cpu"
            )
        return
    import torch

    if not torch.cuda.is_available():
        fix = (
            "is there an NVIDIA GPU with its driver loaded (nvidia-smi)?"
            if torch.version.cuda
            else "this torch is a CPU-only build: install a CUDA build of torch"
        )
        raise DeviceNotAvailable(
            f"device {device}: PyTorch sees no CUDA GPU (torch {torch.__version__}); {fix} "
            "Or choose device cpu"
        )
    index = int(device.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise DeviceNotAvailable(
            f"device {device}: this machine has {count} CUDA GPU(s), numbered 0–{count - 1}"
        )
