"""Fixtures for every room. Tests run offline: no model or data is downloaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("STORELENS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ultralytics_assets() -> Path:
    from detectors.media import _ultralytics_assets

    assets = _ultralytics_assets()
    assert assets is not None, (
        "ultralytics is a dependency; its wheel carries bus.jpg and zidane.jpg"
    )
    return assets


@pytest.fixture(scope="session")
def shared_media() -> Path:
    from detectors.paths import shared_dir

    media = shared_dir() / "media"
    if not media.is_dir():
        pytest.skip(
            f"shared footage not found at {media}; CI always has ../shared beside the clone"
        )
    return media
