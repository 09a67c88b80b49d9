"""Person tracks on the shared clips against counts made by eye.

Hand counts (looked at every clip frame by frame, 2026-11-26):
- store-aisle-detection.gif: 3 shoppers (man in a hat, woman in teal, woman in a
  brown jacket who walks in from the bottom right around frame 18 and occludes
  the woman in teal for ~0.5 s); at most 3 in view at once.
- face-demographics-walking.gif: 2 people walking toward the camera, both all along.
- head-pose-face-detection-female-and-male.gif: 2 people close to the camera.
- classroom.gif: 4 people seated at desks.
- people-detection.gif: 1 person, half out of frame at the left edge, leaving within
  ~1 s; a track shorter than 1 s is not counted, so 0 or 1 tracks are both right.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from storelens.detectors.analyze import analyze_clip
from storelens.detectors.persons import PersonDetector
from storelens.detectors.pipeline import PipelineOptions, SharedModels
from storelens.kernel.config import LineConfig

HAND_COUNTS = [
    # clip, person tracks (≥ 1 s) by eye (min, max), most people at once by eye
    ("store-aisle-detection.gif", (3, 3), 3),
    ("face-demographics-walking.gif", (2, 2), 2),
    ("head-pose-face-detection-female-and-male.gif", (2, 2), 2),
    ("classroom.gif", (4, 4), 4),
    ("people-detection.gif", (0, 1), 1),
]


@pytest.fixture(scope="module")
def person_only() -> SharedModels:
    return SharedModels(person=PersonDetector("openvino", 416))


@pytest.mark.parametrize(("clip", "tracks", "max_people"), HAND_COUNTS)
def test_tracks_match_hand_counts(
    clip, tracks, max_people, shared_media: Path, person_only
) -> None:
    summary = analyze_clip(
        str(shared_media / clip),
        options=PipelineOptions(faces=False, workers=1),
        models=person_only,
    )
    assert tracks[0] <= summary.person_tracks <= tracks[1]
    assert summary.max_people == max_people
    assert summary.frames > 20 and summary.faces_read == 0


def test_line_crossing_on_real_footage(shared_media: Path, person_only) -> None:
    # face-demographics-walking.gif, by eye: the person on the left walks leftwards past
    # x=230 (box centre 275 → 177), the one on the right stays right of it (322 → 285).
    # So exactly one crossing, and reversing the line's direction swaps in and out.
    counts = []
    for start, end in (((230, 0), (230, 269)), ((230, 269), (230, 0))):
        summary = analyze_clip(
            str(shared_media / "face-demographics-walking.gif"),
            [LineConfig(name="door", start=start, end=end)],
            options=PipelineOptions(faces=False, workers=1),
            models=person_only,
        )
        counts.append((summary.crossings_in, summary.crossings_out))
    assert sorted(counts[0]) == [0, 1]
    assert counts[1] == counts[0][::-1]
