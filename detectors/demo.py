"""The demo store's cameras, built from whatever footage the media chain finds.

Lines and zones are given as fractions of the frame and scaled to each clip's
real size when the config is built, so the same demo works on the shared GIFs,
on ``vtest.avi`` and on the ultralytics stills.

Run time, not an offline tool: with no store config saved, the pipeline process runs
this store (``kernel.config``'s resolver ends in the demo). ``storelens bench``
(``detectors.offline.bench``) measures on the same cameras.
"""

from __future__ import annotations

from pathlib import Path

import cv2
from storelens.detectors.media import find_demo_media, shared_clip
from storelens.kernel.config import (
    CameraConfig,
    LineConfig,
    ModelsConfig,
    StoreConfig,
    StoreLensConfig,
    ZoneConfig,
)

# camera id, clip, name, role, line (fractions) or None, zones [(name, kind, polygon fractions)]
_DEMO_CAMERAS: tuple[tuple[str, str, str, str, tuple | None, list], ...] = (
    (
        "demo-cam-1",
        "store-aisle-detection.gif",
        "Aisle 3 (homeware)",
        "floor",
        ((0.0, 0.55), (1.0, 0.55)),
        [("aisle", "floor", [(0.05, 0.35), (0.95, 0.35), (0.95, 1.0), (0.05, 1.0)])],
    ),
    (
        "demo-cam-2",
        "people-detection.gif",
        "Entrance",
        "entrance",
        ((0.5, 0.0), (0.5, 1.0)),
        [("lobby", "floor", [(0.0, 0.3), (1.0, 0.3), (1.0, 1.0), (0.0, 1.0)])],
    ),
    (
        "demo-cam-3",
        "face-demographics-walking.gif",
        "Checkout 1",
        "checkout",
        None,
        [("checkout queue", "queue", [(0.1, 0.2), (0.9, 0.2), (0.9, 1.0), (0.1, 1.0)])],
    ),
    (
        "demo-cam-4",
        "head-pose-face-detection-female-and-male.gif",
        "Service desk",
        "floor",
        None,
        [("service desk", "checkout", [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])],
    ),
)


def frame_size(source: Path) -> tuple[int, int]:
    """(width, height) of the first frame of a clip or of the first image in a folder."""
    if source.is_dir():
        images = sorted(
            p for p in source.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )
        image = cv2.imread(str(images[0])) if images else None
        return (image.shape[1], image.shape[0]) if image is not None else (640, 480)
    cap = cv2.VideoCapture(str(source))
    try:
        ok, frame = cap.read()
    finally:
        cap.release()
    return (frame.shape[1], frame.shape[0]) if ok else (640, 480)


def _scaled(points, size: tuple[int, int]) -> list[tuple[float, float]]:
    w, h = size
    return [(round(x * (w - 1), 1), round(y * (h - 1), 1)) for x, y in points]


def demo_config(max_cameras: int = 4) -> StoreLensConfig:
    """The demo store: up to ``max_cameras`` shared clips, or one camera on the best fallback."""
    cameras: list[CameraConfig] = []
    for cam_id, clip, name, role, line, zones in _DEMO_CAMERAS[:max_cameras]:
        path = shared_clip(clip)
        if not path.is_file():
            continue
        size = frame_size(path)
        cameras.append(
            CameraConfig(
                camera_id=cam_id,
                name=name,
                source=str(path),
                role=role,
                lines=[
                    LineConfig(
                        name="entrance",
                        start=_scaled([line[0]], size)[0],
                        end=_scaled([line[1]], size)[0],
                    )
                ]
                if line
                else [],
                zones=[
                    ZoneConfig(name=z, kind=k, polygon=_scaled(poly, size), min_dwell_s=2.0)
                    for z, k, poly in zones
                ],
            )
        )
    if not cameras:  # no shared media: the chain's best find, one camera
        media = find_demo_media()
        size = frame_size(media.path)
        cameras.append(
            CameraConfig(
                camera_id="demo-cam-1",
                name=f"Demo ({media.provider})",
                source=str(media.path),
                lines=[
                    LineConfig(
                        start=_scaled([(0.0, 0.55)], size)[0], end=_scaled([(1.0, 0.55)], size)[0]
                    )
                ],
            )
        )
    # The demo footage is 480×270, so a 320 px model input loses little; measured with
    # `storelens bench`: 8.4 analysed fps per camera for 4 cameras at 320 vs 5.4 at 416.
    # Real cameras (1080p) keep the product default of 416 for small, distant people.
    return StoreLensConfig(
        store=StoreConfig(), cameras=cameras, models=ModelsConfig(person_imgsz=320)
    )
