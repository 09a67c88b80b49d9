"""Face appearance features: the YOLO expression model's trunk, pooled, on a face crop.

Why: landmark geometry and blendshapes alone separate a smile from the rest but
not a sad or disgusted face from a calm one (person-disjoint CV: frustrated
recall 46 %; ``scripts/train_valence.py``). The YOLO face/expression model
(``yolo-face-expression``, AGPL-3.0) was trained to tell eight expressions
apart, so its intermediate feature maps carry exactly that appearance; its own
class outputs, though, are biased (on faces it never saw it read 40 % of calm
faces as negative, issue 9). So we keep its trunk and retrain only the last
step: the feature maps of layers 10 (backbone end), 16, 19 and 22 (the neck's
three scales) are average-pooled, globally and over a 2 × 2 grid (where on the
face a cue sits matters: brows above, mouth below), into one vector that the
valence head (``detectors.valence``) reads.

Cost: the trunk without the detection head runs on a ``INPUT_PX``-square crop;
it is exported once to OpenVINO (atomic, cached beside the person model's
exports, keyed by the weights' SHA-256) because PyTorch on 2 cores takes
≈ 30 ms per face where OpenVINO takes a few. The vector describes one
moment's expression and lives only for that reading: it is never stored,
and it is not an identity embedding (the trunk was trained on expressions,
not identities, and nothing compares vectors across faces).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np
from storelens.detectors.errors import ModelError
from storelens.detectors.faces import face_crop
from storelens.detectors.registry import get_spec, resolve_model
from storelens.kernel.paths import model_export_dir

MODEL_NAME = "yolo-face-expression"
INPUT_PX = 224
CROP_MARGIN = 0.15  # the margin the YOLO model saw around faces in training
GLOBAL_LAYERS = (10, 16, 19, 22)
GRID_LAYERS = (10, 16, 19, 22)
LAST_LAYER = max((*GLOBAL_LAYERS, *GRID_LAYERS))
BACKENDS = ("openvino", "torch")


def _trunk_module(weights: Path):  # -> torch.nn.Module
    """Layers 0..LAST_LAYER of the YOLO model, returning the pooled feature vector."""
    import torch
    from storelens.detectors.faces import load_yolo

    net = load_yolo(weights).model.float().eval()
    layers = net.model
    saved = set(net.save)

    class Trunk(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(list(layers[: LAST_LAYER + 1]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            outputs: list[torch.Tensor | None] = []
            kept: dict[int, torch.Tensor] = {}
            for m in self.layers:
                if m.f != -1:  # this layer reads earlier outputs (skip connections, concat)
                    x = (
                        outputs[m.f]
                        if isinstance(m.f, int)
                        else [x if j == -1 else outputs[j] for j in m.f]
                    )
                x = m(x)
                outputs.append(x if m.i in saved else None)
                if m.i in GLOBAL_LAYERS or m.i in GRID_LAYERS:
                    kept[m.i] = x
            parts = [kept[i].mean(dim=(2, 3)) for i in GLOBAL_LAYERS]
            parts += [
                torch.nn.functional.adaptive_avg_pool2d(kept[i], 2).flatten(1) for i in GRID_LAYERS
            ]
            return torch.cat(parts, dim=1)

    return Trunk().eval()


def export_folder(imgsz: int = INPUT_PX) -> Path:
    spec = get_spec(MODEL_NAME)
    return model_export_dir() / f"{MODEL_NAME}-{spec.sha256[:12]}-trunk-{imgsz}"


def prepare_trunk(imgsz: int = INPUT_PX) -> Path:
    """The OpenVINO IR of the trunk, exported once (atomically: temp folder, rename)."""
    folder = export_folder(imgsz)
    xml = folder / "trunk.xml"
    if (folder / ".complete").is_file() and xml.is_file():
        return xml
    weights = resolve_model(MODEL_NAME)  # hash-checked before anything is unpickled
    import openvino as ov
    import torch

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".trunk-"))
    try:
        with torch.inference_mode():
            model = ov.convert_model(
                _trunk_module(weights), example_input=torch.zeros(1, 3, imgsz, imgsz)
            )
        ov.save_model(model, str(tmp / "trunk.xml"), compress_to_fp16=False)
        (tmp / ".complete").write_text("ok\n")
        if folder.exists():  # a stale, incomplete export
            shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if (folder / ".complete").is_file():  # another process won the race
            return xml
        raise ModelError(f"exporting the expression trunk to OpenVINO failed: {exc}") from exc
    return xml


# The face the trunk sees is made the same way in training and in the product
# (issue 17): levelled and grey. Press photos are upright and mostly grey-scale;
# store cameras are colour, and shoppers tilt their heads. On the shared head-pose
# clip the head read 112 of 112 calm faces as frustrated at P 0.98 when fed colour,
# tilted crops; grey alone or levelling alone each moved part of that, both together
# with camera-like training copies are what ``scripts/train_valence.py`` measures.
# The head file names the preprocessing it was trained on, and the reader refuses a
# head trained on another (``detectors.valence``).
PREPROCESS = "level-grey-v1"
ALIGN_CONTEXT = 0.5  # the region searched for eye landmarks: the box grown by this
ALIGN_SEARCH_PX = 160  # that region is scaled to this (YuNet finds 20-px faces poorly)
MAX_ROLL_DEG = 45.0  # past this the landmarks are more likely wrong than the head that tilted


class FaceLeveller:
    """Eye-level, grey face crops: YuNet's eye landmarks on the region around a face box.

    Why YuNet again, on the crop: the pipeline's face detector hands over a box, not
    landmarks, and any detector may be configured; a 160-px YuNet pass costs ~1 ms.
    Where no eyes are found the crop is used as it is (still grey): a turned face
    then reads as it did before levelling, never not at all.
    """

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or resolve_model("yunet")
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), 0.5, 0.3, 5)
        except cv2.error as exc:
            raise ModelError(f"{path}: OpenCV could not load the YuNet model ({exc})") from exc
        self._lock = threading.Lock()

    def roll_deg(self, image: np.ndarray, face_xyxy: np.ndarray) -> float | None:
        """The eye line's angle in degrees (image y down), None where no eyes are found."""
        x1, y1, x2, y2 = (float(v) for v in np.asarray(face_xyxy, np.float32).reshape(4))
        w, h = x2 - x1, y2 - y1
        h_img, w_img = image.shape[:2]
        cx1, cy1 = max(0, int(x1 - ALIGN_CONTEXT * w)), max(0, int(y1 - ALIGN_CONTEXT * h))
        cx2 = min(w_img, int(np.ceil(x2 + ALIGN_CONTEXT * w)))
        cy2 = min(h_img, int(np.ceil(y2 + ALIGN_CONTEXT * h)))
        region = image[cy1:cy2, cx1:cx2]
        if region.shape[0] < 8 or region.shape[1] < 8:
            return None
        scale = ALIGN_SEARCH_PX / max(region.shape[:2])
        size = (max(8, round(region.shape[1] * scale)), max(8, round(region.shape[0] * scale)))
        interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
        scaled = cv2.resize(region, size, interpolation=interp)
        with self._lock:
            self._net.setInputSize(size)
            _, found = self._net.detect(scaled)
        if found is None or not len(found):
            return None
        # The face nearest the box centre (a neighbour's face can share the region).
        centre = np.array([(x1 + x2) / 2 - cx1, (y1 + y2) / 2 - cy1]) * scale
        mids = found[:, :2] + found[:, 2:4] / 2
        best = found[int(np.argmin(((mids - centre) ** 2).sum(axis=1)))]
        (rx, ry), (lx, ly) = best[4:6], best[6:8]  # the person's right eye, left eye
        roll = float(np.degrees(np.arctan2(ly - ry, lx - rx)))
        return roll if abs(roll) <= MAX_ROLL_DEG else None

    def __call__(self, image: np.ndarray, face_xyxy: np.ndarray) -> np.ndarray | None:
        """The face box (with ``CROP_MARGIN``) rotated eye-level and made grey; None if empty."""
        return levelled_crop(image, face_xyxy, self.roll_deg(image, face_xyxy))


def levelled_crop(
    image: np.ndarray, face_xyxy: np.ndarray, roll_deg: float | None
) -> np.ndarray | None:
    """Rotate the region around the face by ``roll_deg`` about its centre, crop, grey."""
    box = np.asarray(face_xyxy, np.float32).reshape(4)
    if not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        return None
    if roll_deg:
        cx, cy = float(box[0] + box[2]) / 2, float(box[1] + box[3]) / 2
        reach = float(max(box[2] - box[0], box[3] - box[1]))
        h_img, w_img = image.shape[:2]
        ox, oy = max(0, int(cx - reach)), max(0, int(cy - reach))
        region = image[oy : min(h_img, int(cy + reach) + 1), ox : min(w_img, int(cx + reach) + 1)]
        turn = cv2.getRotationMatrix2D((cx - ox, cy - oy), roll_deg, 1.0)
        image = cv2.warpAffine(
            region,
            turn,
            (region.shape[1], region.shape[0]),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        box = box - np.array([ox, oy, ox, oy], np.float32)
    crop = face_crop(image, box, CROP_MARGIN)
    if crop is None:
        return None
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def crop_to_input(crop_bgr: np.ndarray, imgsz: int = INPUT_PX) -> np.ndarray:
    """(1, 3, imgsz, imgsz) float32 RGB in [0, 1], the layout ultralytics models expect."""
    h, w = crop_bgr.shape[:2]
    interp = cv2.INTER_AREA if max(h, w) > imgsz else cv2.INTER_LINEAR
    square = cv2.resize(crop_bgr, (imgsz, imgsz), interpolation=interp)
    rgb = square[:, :, ::-1].astype(np.float32) / 255.0
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None])


class AppearanceExtractor:
    """Face crop → appearance vector. One per process; thread-safe via a lock."""

    def __init__(self, backend: str = "openvino", imgsz: int = INPUT_PX) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"unknown trunk backend {backend!r}; choose one of {BACKENDS}")
        self.backend = backend
        self.imgsz = imgsz
        self._lock = threading.Lock()
        if backend == "openvino":
            import openvino as ov

            core = ov.Core()
            # One inference thread: the pipeline already runs one analysis thread per core.
            self._compiled = core.compile_model(
                str(prepare_trunk(imgsz)), "CPU", {"INFERENCE_NUM_THREADS": 1}
            )
            self._request = self._compiled.create_infer_request()
            self.size = int(self._compiled.outputs[0].get_partial_shape()[1].get_length())
        else:
            import torch

            self._torch = torch
            self._module = _trunk_module(resolve_model(MODEL_NAME))
            with torch.inference_mode():
                self.size = int(self._module(torch.zeros(1, 3, imgsz, imgsz)).shape[1])

    def __call__(self, crop_bgr: np.ndarray) -> np.ndarray:
        x = crop_to_input(crop_bgr, self.imgsz)
        with self._lock:
            if self.backend == "openvino":
                out = self._request.infer({0: x})
                return np.asarray(next(iter(out.values())), dtype=np.float32)[0].copy()
            with self._torch.inference_mode():
                return self._module(self._torch.from_numpy(x)).numpy()[0].astype(np.float32)
