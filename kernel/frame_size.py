"""The camera frame's size, carried by each tile JPEG as a comment (COM segment).

Tiles are downscaled (at most 640 px wide) while lines and zones are kept in frame pixels,
so Setup draws on a still at the scale it reads here. No pixels, no identity: two numbers.
Bytes only (no OpenCV): the vision room writes the comment, the Setup page reads it.
"""

from __future__ import annotations

FRAME_SIZE_TAG = b"storelens-frame-size "


def with_frame_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with a comment naming the frame size, right after the start-of-image marker."""
    payload = FRAME_SIZE_TAG + f"{int(width)}x{int(height)}".encode()
    return jpeg[:2] + b"\xff\xfe" + (len(payload) + 2).to_bytes(2, "big") + payload + jpeg[2:]


def jpeg_frame_size(jpeg: bytes) -> tuple[int, int] | None:
    """(width, height) from the comment :func:`with_frame_size` writes; None when the JPEG
    has none (an older pipeline) or the bytes are not a JPEG."""
    pos = 2 if jpeg[:2] == b"\xff\xd8" else len(jpeg)
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF:
        marker, length = jpeg[pos + 1], int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        if marker == 0xDA:  # start of scan: the header segments are over
            return None
        body = jpeg[pos + 4 : pos + 2 + length]
        if marker == 0xFE and body.startswith(FRAME_SIZE_TAG):
            try:
                w, h = (int(v) for v in body[len(FRAME_SIZE_TAG) :].split(b"x"))
            except ValueError:
                return None
            return (w, h) if w > 0 and h > 0 else None
        pos += 2 + length
    return None
