"""Where the INT8 person model lives: its cache folder, keyed by every input's hash.

Split from :mod:`storelens.detectors.int8` (which makes the model and imports the person
detector) so that the detector can look its INT8 model up without an import cycle.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from storelens.detectors.errors import ModelError
from storelens.detectors.media import shared_clip
from storelens.detectors.registry import get_spec
from storelens.kernel.paths import model_export_dir

CALIBRATION_CLIPS = (
    "store-aisle-detection.gif",
    "people-detection.gif",
    "face-demographics-walking.gif",
    "head-pose-face-detection-female-and-male.gif",
    "classroom.gif",
)
INT8_XML = "person-int8.xml"
AGREEMENT_JSON = "agreement.json"
MATCH_IOU = 0.5  # an INT8 box "finds again" an FP32 box at this IoU


@dataclass
class Int8Model:
    """A prepared INT8 model: its XML, how it agrees with FP32, and whether it was cached."""

    xml: Path
    agreement: dict[str, Any]
    cached: bool


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "missing"


def _clips() -> list[Path]:
    clips = [shared_clip(name) for name in CALIBRATION_CLIPS]
    missing = [str(c) for c in clips if not c.is_file()]
    if missing:
        raise ModelError(
            f"INT8 calibration needs the shared clips; missing: {', '.join(missing)} "
            "(../shared/media beside the checkout)"
        )
    return clips


def int8_dir(model_name: str, imgsz: int) -> Path:
    """The cache folder for this model, size, calibration footage and library versions."""
    key = hashlib.sha256(
        json.dumps(
            [
                get_spec(model_name).sha256,
                imgsz,
                [_file_sha(c) for c in _clips()],
                _version("nncf"),
                _version("openvino"),
                "MIXED",
                "every-other-frame",
            ]
        ).encode()
    ).hexdigest()[:12]
    return model_export_dir() / (
        f"{model_name}-{get_spec(model_name).sha256[:12]}-openvino-int8-{imgsz}-{key}"
    )


def cached_int8(model_name: str = "yolo11n-person", imgsz: int = 416) -> Int8Model | None:
    """The prepared INT8 model, or None (never prepared, or prepared from other inputs)."""
    try:
        folder = int8_dir(model_name, imgsz)
    except ModelError:
        return None
    if not (folder / ".complete").is_file() or not (folder / INT8_XML).is_file():
        return None
    agreement = json.loads((folder / AGREEMENT_JSON).read_text())
    return Int8Model(folder / INT8_XML, agreement, cached=True)
