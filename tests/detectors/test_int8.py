"""The INT8 person model (issue 21): made once and cached by hash, agreeing with FP32,
and FP32 when no INT8 model is prepared."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from storelens.detectors import int8, int8_cache
from storelens.detectors.persons import PersonDetector
from storelens.kernel.config import ModelsConfig


def test_prepare_is_cached_and_agrees_with_fp32(shared_media: Path) -> None:
    first = int8.prepare_int8_person_model(416)
    again = int8.prepare_int8_person_model(416)
    assert again.cached and again.xml == first.xml and again.xml.is_file()
    assert first.xml.parent == int8.int8_dir("yolo11n-person", 416)
    a = again.agreement
    # Measured: 270 of 271 FP32 boxes found again on the 113 held-back frames, none added.
    assert a["frames"] == 113 and a["fp32_boxes"] > 200
    assert a["found_again"] >= 0.97 * a["fp32_boxes"]
    assert a["added"] <= 0.03 * a["fp32_boxes"]


def test_int8_detects_like_fp32_on_a_shared_frame(shared_media: Path) -> None:
    int8.prepare_int8_person_model(416)
    cap = cv2.VideoCapture(str(shared_media / "classroom.gif"))
    ok, image = cap.read()
    cap.release()
    assert ok
    q = PersonDetector("openvino", 416, precision="int8")
    f = PersonDetector("openvino", 416, precision="fp32")
    assert (q.precision, f.precision) == ("int8", "fp32")
    assert len(q.detect(image)) == len(f.detect(image)) == 4  # 4 seated people, by eye


def test_falls_back_to_fp32_when_nothing_is_prepared(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(int8_cache, "cached_int8", lambda *a, **k: None)
    detector = PersonDetector("openvino", 416, precision="int8")
    assert detector.precision == "fp32"
    assert "storelens models prepare" in caplog.text


def test_fp32_stays_the_default_precision() -> None:
    # INT8 raised capacity but lowered calm faces read neutral on the labelled head-pose
    # clip from 73 % to 51 % (README's measured table): opt-in, not the default.
    assert ModelsConfig().person_precision == "fp32"
    assert ModelsConfig(person_precision="int8").person_precision == "int8"
