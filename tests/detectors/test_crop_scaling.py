"""The one resize of face crops (detectors.faces.scale_to_longest), shared by the face
detectors (head regions to the model's size) and the expression readers (face crops to
their input size) since issue 13 item 7 removed the second copy from expressions.py."""

from __future__ import annotations

import numpy as np
import pytest
from storelens.detectors.faces import scale_to_longest


@pytest.fixture
def crop() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 255, (60, 40, 3), dtype=np.uint8)


def test_grows_to_the_longest_side_but_not_past_max_upscale(crop: np.ndarray) -> None:
    grown, scale = scale_to_longest(crop, 240)
    assert grown.shape == (240, 160, 3) and scale == pytest.approx(4.0)
    capped, scale = scale_to_longest(crop, 240, max_upscale=2.0)
    assert capped.shape == (120, 80, 3) and scale == pytest.approx(2.0)


def test_shrinks_with_area_interpolation(crop: np.ndarray) -> None:
    flat = np.full((60, 40, 3), 77, dtype=np.uint8)
    small, scale = scale_to_longest(flat, 30)
    assert small.shape == (30, 20, 3) and scale == pytest.approx(0.5)
    assert (small == 77).all()  # area averaging keeps a flat image flat


def test_within_tolerance_the_crop_is_used_as_it_is(crop: np.ndarray) -> None:
    same, scale = scale_to_longest(crop, 62, tolerance=0.05)
    assert same is crop and scale == 1.0
    resized, scale = scale_to_longest(crop, 62)
    assert resized.shape == (62, 41, 3) and scale == pytest.approx(62 / 60)


def test_never_collapses_a_side_to_zero() -> None:
    sliver = np.zeros((400, 1, 3), dtype=np.uint8)
    out, _ = scale_to_longest(sliver, 40)
    assert out.shape == (40, 1, 3)
