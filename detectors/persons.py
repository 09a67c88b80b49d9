"""Person detection: Ultralytics YOLO (COCO class 0) through the fastest backend here.

The PyTorch weights come from the model registry (hash-checked). :func:`prepare_person_model`
exports them once per input size to OpenVINO (and ONNX) in the cache folder; export is
atomic (build in a temp folder, then rename) so an interrupted export never leaves a
half-written model that a later start would load. Measured on this 2-core CPU
(``benchmarks/bench_persons.py``), OpenVINO is the default.

The OpenVINO export has a dynamic input shape, and each frame size gets its own compiled
model at the smallest multiple of 32 that holds the letterboxed frame (a 480×270 camera
runs at 416×256 instead of 416×416). YOLO is fully convolutional and the exported graph
computes its anchors from the input shape, so this is ultralytics' own "rect" inference:
on the 226 frames of ../shared/media, 539 of 539 square-input boxes are found again at
mean IoU 0.98, at 0.5–0.6 of the time per inference (issue 12).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from storelens.detectors.errors import ModelError
from storelens.detectors.registry import get_spec, resolve_model
from storelens.detectors.types import PERSON_CLASS_ID, Detections
from storelens.kernel.paths import model_export_dir

BACKENDS = ("openvino", "onnx", "torch")
log = logging.getLogger(__name__)
_EXPORT_FORMATS = {"openvino": "openvino", "onnx": "onnx"}


def _quiet_ultralytics() -> None:
    # Before the first ultralytics import: no network checks, no settings chatter.
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")


def export_dir(model_name: str, backend: str, imgsz: int) -> Path:
    spec = get_spec(model_name)
    # "-dyn": the OpenVINO export has a dynamic input shape (see the module docstring);
    # the older fixed-shape export in "-openvino-{imgsz}" is left alone and unused.
    suffix = "-dyn" if backend == "openvino" else ""
    return model_export_dir() / f"{model_name}-{spec.sha256[:12]}-{backend}-{imgsz}{suffix}"


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
                format=_EXPORT_FORMATS[backend],
                imgsz=imgsz,
                half=False,
                dynamic=backend == "openvino",
                verbose=False,
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


def input_shape(height: int, width: int, imgsz: int, stride: int = 32) -> tuple[int, int]:
    """The model input (h, w) for a frame: longest side ``imgsz``, each side rounded up to
    ``stride`` (YOLO's largest downsampling), so the letterbox pads as little as possible."""
    scale = imgsz / max(height, width)
    h, w = max(1, round(height * scale)), max(1, round(width * scale))
    return -(-h // stride) * stride, -(-w // stride) * stride


def letterbox(image: np.ndarray, imgsz: int) -> tuple[np.ndarray, float, int, int]:
    """The model input for ``image``: a (1, 3, h, w) float32 RGB blob in [0, 1], letterboxed
    at :func:`input_shape`, with the scale and the (top, left) padding to map boxes back."""
    import cv2

    h, w = image.shape[:2]
    in_h, in_w = input_shape(h, w, imgsz)
    scale = min(in_w / w, in_h / h)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    top, left = (in_h - nh) // 2, (in_w - nw) // 2
    canvas = np.full((in_h, in_w, 3), 114, dtype=np.uint8)
    canvas[top : top + nh, left : left + nw] = cv2.resize(
        image, (nw, nh), interpolation=cv2.INTER_LINEAR
    )
    blob = np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32)
    return blob / 255.0, scale, top, left


class _OpenVinoBoxes:
    """Direct OpenVINO adapter for the exported YOLO model: boxes of one class, nothing else.

    Why not ``YOLO(openvino_dir).predict``: the person weights are a *segmentation*
    model, and ultralytics computes its mask prototypes (a 32×104×104 branch) and runs
    NMS and mask post-processing in torch on every frame. Here the graph is cut to the
    box output, so OpenVINO prunes the prototype branch, and letterboxing and NMS are
    numpy/OpenCV. ``benchmarks/bench_persons.py`` compares both paths.

    One compiled model per input shape (:func:`input_shape`), compiled on the first frame
    of that size (about a second) and kept: a store has a handful of camera sizes.
    """

    def __init__(
        self,
        xml_path: Path,
        imgsz: int,
        class_id: int = PERSON_CLASS_ID,
        streams: int = 2,
        device: str = "CPU",
    ) -> None:
        import openvino as ov

        self._core = ov.Core()
        model = self._core.read_model(str(xml_path))
        self._boxes_only = ov.Model([model.outputs[0].get_node()], model.get_parameters(), "boxes")
        self._streams = streams
        self._device = device
        self._compiled: dict[tuple[int, int], object] = {}
        self._compile_lock = threading.Lock()
        self._local = threading.local()
        self.imgsz = imgsz
        self.class_row = 4 + class_id  # rows: cx, cy, w, h, then one score per class

    def _request(self, shape: tuple[int, int]):
        requests = self._local.__dict__.setdefault("requests", {})
        request = requests.get(shape)
        if request is None:
            with self._compile_lock:
                compiled = self._compiled.get(shape)
                if compiled is None:
                    model = self._boxes_only.clone()
                    model.reshape({0: [1, 3, *shape]})
                    # Two streams, one infer request per analysis thread, no lock: measured
                    # 34 inferences/s against 26 for one LATENCY stream on this 2-core CPU.
                    config = (
                        {
                            "NUM_STREAMS": str(self._streams),
                            "INFERENCE_NUM_THREADS": str(self._streams),
                        }
                        if self._device == "CPU"
                        else {"PERFORMANCE_HINT": "THROUGHPUT"}  # a GPU: its plugin decides
                    )
                    compiled = self._core.compile_model(model, self._device, config)
                    self._compiled[shape] = compiled
            request = requests[shape] = compiled.create_infer_request()
        return request

    def __call__(
        self, image: np.ndarray, conf: float, iou: float = 0.5
    ) -> tuple[np.ndarray, np.ndarray]:
        import cv2

        h, w = image.shape[:2]
        blob, scale, top, left = letterbox(image, self.imgsz)
        out = self._request(blob.shape[2:]).infer({0: blob})[0][0]  # (4 + classes + masks, anchors)
        scores = out[self.class_row]
        keep = scores >= conf
        if not keep.any():
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        cx, cy, bw, bh = out[:4, keep]
        scores = scores[keep]
        x1 = (cx - bw / 2 - left) / scale
        y1 = (cy - bh / 2 - top) / scale
        boxes = np.stack([x1, y1, x1 + bw / scale, y1 + bh / scale], axis=1)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        xywh = np.column_stack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]])
        picked = cv2.dnn.NMSBoxes(xywh.tolist(), scores.tolist(), conf, iou)
        picked = np.asarray(picked, dtype=int).reshape(-1)
        return boxes[picked].astype(np.float32), scores[picked].astype(np.float32)


@runtime_checkable
class PersonModel(Protocol):
    """The person stage of the pipeline: people in one BGR frame (``class_id`` 0).

    One copy serves every camera of a store, so ``detect`` must be thread-safe.
    """

    def detect(self, image: np.ndarray) -> Detections: ...


class PersonDetector:
    """One shared YOLO model; ``detect`` is thread-safe (calls are serialised).

    ``device`` (detectors/devices.py): ``cpu``, ``openvino-gpu`` or ``cuda[:N]``, checked
    here before the model loads; ``cuda`` runs the PyTorch backend, whatever ``backend``.
    ``precision="int8"`` loads the INT8 model ``storelens models prepare`` made
    (detectors/int8.py) where there is one, else FP32 with a warning; :attr:`precision`
    says which one runs.
    """

    def __init__(
        self,
        backend: str = "openvino",
        imgsz: int = 416,
        conf: float = 0.35,
        model_name: str = "yolo11n-person",
        explicit: str | Path | None = None,
        device: str = "cpu",
        precision: str = "fp32",
    ) -> None:
        from storelens.detectors.devices import backend_for, check_device

        check_device(device)
        backend = backend_for(device, backend)
        if device == "openvino-gpu" and backend != "openvino":
            raise ModelError(f"device openvino-gpu needs the openvino backend, not {backend}")
        _quiet_ultralytics()
        from ultralytics import YOLO

        self.device = device
        self.backend = backend
        self.imgsz = imgsz
        self.conf = conf
        path = prepare_person_model(backend, imgsz, model_name, explicit)
        self._boxes: _OpenVinoBoxes | None = None
        self.precision = "fp32"
        if backend == "openvino":
            ov_device = "GPU" if device == "openvino-gpu" else "CPU"
            xml = next(path.glob("*.xml"))
            if precision == "int8":
                xml = self._int8_or(xml, model_name, imgsz, explicit)
            self._boxes = _OpenVinoBoxes(xml, imgsz, device=ov_device)
        elif precision == "int8":
            log.warning("INT8 person model is OpenVINO only; the %s backend runs FP32", backend)
        else:
            self._model = YOLO(str(path), task="segment")
        self._lock = threading.Lock()
        # Warm up (and fail fast on a broken model) at 16:9, the usual camera shape, so a
        # 1080p or 480×270 camera finds its compiled model ready.
        self.detect(np.zeros((imgsz * 9 // 16, imgsz, 3), dtype=np.uint8))

    def _int8_or(
        self, fp32_xml: Path, model_name: str, imgsz: int, explicit: str | Path | None
    ) -> Path:
        from storelens.detectors.int8_cache import cached_int8

        prepared = None if explicit else cached_int8(model_name, imgsz)
        if prepared is None:
            log.warning(
                "no prepared INT8 %s at %d px (run `storelens models prepare`; an explicit "
                "model file is never quantised): running FP32",
                model_name,
                imgsz,
            )
            return fp32_xml
        self.precision = "int8"
        return prepared.xml

    def detect(self, image: np.ndarray) -> Detections:
        if self._boxes is not None:  # thread-safe by itself: one infer request per thread
            xyxy, conf = self._boxes(image, self.conf)
            return Detections(xyxy, conf, np.full(len(conf), PERSON_CLASS_ID, dtype=np.int32))
        with self._lock:
            result = self._model.predict(
                image,
                imgsz=self.imgsz,
                conf=self.conf,
                classes=[PERSON_CLASS_ID],
                retina_masks=False,
                device=self.device if self.device.startswith("cuda") else "cpu",
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
