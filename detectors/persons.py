"""Person detection: Ultralytics YOLO (COCO class 0) through the fastest backend here.

The PyTorch weights come from the model registry (hash-checked). :func:`prepare_person_model`
exports them once per input size to OpenVINO (and ONNX) in the cache folder; export is
atomic (build in a temp folder, then rename) so an interrupted export never leaves a
half-written model that a later start would load. Measured on this 2-core CPU
(``benchmarks/bench_persons.py``), OpenVINO is the default.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np

from detectors.errors import ModelError
from detectors.paths import model_cache_dir
from detectors.registry import get_spec, resolve_model
from detectors.types import PERSON_CLASS_ID, Detections

BACKENDS = ("openvino", "onnx", "torch")
_EXPORT_FORMATS = {"openvino": "openvino", "onnx": "onnx"}


def _quiet_ultralytics() -> None:
    # Before the first ultralytics import: no network checks, no settings chatter.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")


def export_dir(model_name: str, backend: str, imgsz: int) -> Path:
    spec = get_spec(model_name)
    return model_cache_dir() / "exports" / f"{model_name}-{spec.sha256[:12]}-{backend}-{imgsz}"


def _exported_artifact(folder: Path, backend: str) -> Path | None:
    if not (folder / ".complete").is_file():
        return None
    if backend == "openvino":
        hits = [p for p in folder.iterdir() if p.is_dir() and p.name.endswith("_openvino_model")]
    else:
        hits = list(folder.glob("*.onnx"))
    return hits[0] if hits else None


def prepare_person_model(
    backend: str = "openvino",
    imgsz: int = 416,
    model_name: str = "yolo11n-person",
    explicit: str | Path | None = None,
) -> Path:
    """Return the path to load for ``backend``, exporting it once if needed (idempotent)."""
    if backend not in BACKENDS:
        raise ModelError(f"unknown person backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    weights = resolve_model(model_name, explicit)
    if backend == "torch":
        return weights
    folder = export_dir(model_name, backend, imgsz)
    done = _exported_artifact(folder, backend)
    if done is not None:
        return done
    _quiet_ultralytics()
    from ultralytics import YOLO

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".export-") as tmp:
        local = Path(tmp) / weights.name
        shutil.copy2(weights, local)  # export writes beside its input; keep site-packages clean
        try:
            YOLO(str(local)).export(
                format=_EXPORT_FORMATS[backend], imgsz=imgsz, half=False, verbose=False
            )
        except Exception as exc:
            raise ModelError(
                f"exporting {model_name} to {backend} at {imgsz}px failed: {exc}"
            ) from exc
        local.unlink()
        (Path(tmp) / ".complete").write_text(f"{get_spec(model_name).sha256}\n")
        if folder.exists():  # another process won the race; keep theirs
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, folder)
            Path(tmp).mkdir()  # TemporaryDirectory cleanup expects it
    artifact = _exported_artifact(folder, backend)
    if artifact is None:
        raise ModelError(f"export of {model_name} to {backend} produced nothing in {folder}")
    return artifact


class PersonDetector:
    """One shared YOLO model; ``detect`` is thread-safe (calls are serialised)."""

    def __init__(
        self,
        backend: str = "openvino",
        imgsz: int = 416,
        conf: float = 0.35,
        model_name: str = "yolo11n-person",
        explicit: str | Path | None = None,
    ) -> None:
        _quiet_ultralytics()
        from ultralytics import YOLO

        self.backend = backend
        self.imgsz = imgsz
        self.conf = conf
        path = prepare_person_model(backend, imgsz, model_name, explicit)
        self._model = YOLO(str(path), task="segment")
        self._lock = threading.Lock()
        self.detect(np.zeros((imgsz, imgsz, 3), dtype=np.uint8))  # warm up: first call compiles

    def detect(self, image: np.ndarray) -> Detections:
        with self._lock:
            result = self._model.predict(
                image,
                imgsz=self.imgsz,
                conf=self.conf,
                classes=[PERSON_CLASS_ID],
                retina_masks=False,
                verbose=False,
            )[0]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return Detections.empty()
        return Detections(
            xyxy=boxes.xyxy.cpu().numpy(),
            confidence=boxes.conf.cpu().numpy(),
            class_id=boxes.cls.cpu().numpy().astype(np.int32),
        )
