"""Demo footage provider chain, so the demo always starts.

config path → ``STORELENS_MEDIA_DIR`` → ``../shared/media`` → Debian's
``opencv-doc`` ``vtest.avi`` → still images inside the ultralytics wheel
(``bus.jpg``, ``zidane.jpg``). The first existing candidate wins.

Run time, not an offline tool: the pipeline process runs the demo store
(``detectors.demo``) on this footage when no store config is saved, and the INT8
person model calibrates on the shared clips (``detectors.int8_cache``). The labelled
clips the evaluations use are ``detectors.offline.clip_evaluation``'s.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from storelens.detectors.errors import MediaNotFound
from storelens.kernel.paths import shared_dir

# Preferred clip first: shoppers in a real store aisle.
DEMO_CLIPS = (
    "store-aisle-detection.gif",
    "people-detection.gif",
    "face-demographics-walking.gif",
    "head-pose-face-detection-female-and-male.gif",
    "classroom.gif",
)
VTEST_GLOBS = (
    "/usr/share/doc/opencv-doc/examples/data/vtest.avi*",
    "/usr/share/opencv*/samples/data/vtest.avi",
)


@dataclass(frozen=True)
class DemoMedia:
    path: Path
    provider: str


def _ultralytics_assets() -> Path | None:
    spec = importlib.util.find_spec("ultralytics")
    if spec is None or not spec.submodule_search_locations:
        return None
    assets = Path(next(iter(spec.submodule_search_locations))) / "assets"
    return assets if assets.is_dir() else None


def demo_media_candidates(configured: str | Path | None = None) -> list[DemoMedia]:
    found: list[DemoMedia] = []
    if configured:
        found.append(DemoMedia(Path(configured), "config"))
    env_dir = os.environ.get("STORELENS_MEDIA_DIR")
    for provider, folder in (
        ("STORELENS_MEDIA_DIR", env_dir),
        ("../shared/media", shared_dir() / "media"),
    ):
        if folder:
            found.extend(DemoMedia(Path(folder) / clip, provider) for clip in DEMO_CLIPS)
    for pattern in VTEST_GLOBS:
        found.extend(DemoMedia(Path(p), "opencv-doc") for p in sorted(glob.glob(pattern)))
    assets = _ultralytics_assets()
    if assets is not None:
        # A folder of stills: the image-folder source loops over bus.jpg and zidane.jpg.
        found.append(DemoMedia(assets, "ultralytics wheel stills"))
    return found


def find_demo_media(configured: str | Path | None = None) -> DemoMedia:
    candidates = demo_media_candidates(configured)
    for candidate in candidates:
        if candidate.path.exists() and not str(candidate.path).endswith(".gz"):
            return candidate
    tried = "\n  ".join(f"{c.provider}: {c.path}" for c in candidates) or "(nothing)"
    raise MediaNotFound(
        "no demo footage found. Fix: set STORELENS_MEDIA_DIR to a folder of clips, or "
        f"`apt-get install opencv-doc`, or `pip install ultralytics`. Tried:\n  {tried}"
    )


def shared_clip(name: str) -> Path:
    """Path of one clip in ../shared/media (the demo store, INT8 calibration, tests)."""
    return shared_dir() / "media" / name
