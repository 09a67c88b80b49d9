"""Tiles carry the size of the camera frame they were scaled from (a JPEG comment), so
Setup draws lines and zones in frame pixels on a downscaled still (issue 19, item 8)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from storelens.detectors.overlay import encode_jpeg
from storelens.kernel.frame_size import jpeg_frame_size


def test_frame_size_survives_the_jpeg_and_the_picture_still_decodes() -> None:
    tile = np.full((360, 640, 3), 90, np.uint8)
    jpeg = encode_jpeg(tile, 80, (1920, 1080))
    assert jpeg_frame_size(jpeg) == (1920, 1080)
    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == tile.shape


@pytest.mark.parametrize("data", [None, b"", b"not a jpeg", b"\xff\xd8\xff\xfe\x00"])
def test_no_comment_means_no_size(data: bytes | None) -> None:
    if data is None:
        data = encode_jpeg(np.zeros((10, 10, 3), np.uint8))
    assert jpeg_frame_size(data) is None
