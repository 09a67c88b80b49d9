"""The pipeline's knobs and the one copy of each model every camera of a store shares.

:class:`PipelineOptions` are the settings ``storelens bench`` chose on a 2-core CPU;
:class:`SharedModels` loads the person, face and expression models once per process,
checks each against its stage's Protocol, and closes them at the end. Cameras get
their own state (:class:`~storelens.detectors.pipeline.CameraPipeline`) around these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from storelens.kernel.config import AlertsConfig, StoreLensConfig

if TYPE_CHECKING:
    # Only for typing: the stage modules load their model libraries on import, and
    # SharedModels imports them when (and if) the options ask for that stage.
    from storelens.detectors.expressions import ExpressionReader
    from storelens.detectors.faces import FaceDetector
    from storelens.detectors.persons import PersonModel


@dataclass
class PipelineOptions:
    """Knobs with defaults chosen by ``storelens bench`` on a 2-core CPU."""

    # Issue 12: every captured frame of 12.5–16.7 fps cameras is analysed; measured with
    # `storelens bench` (4 cameras, 54.2 frames/s captured): 15 → 48.7–49.3 analysed/s,
    # 20 → 52.3 (a 16.7 fps camera no longer capped). Faster cameras share the CPU fairly.
    max_fps_per_camera: float = 20.0
    # Person detection every k-th frame while the scene moves, tracker prediction between;
    # in a still scene at least every still_max_skip frames (detectors/gating.py).
    detect_every_k: int = 2
    still_max_skip: int = 12
    batch_interval_s: float = 1.0
    faces: bool = True
    expressions: bool = True
    face_detector: str = "yunet"
    expression_reader: str = "valence-head"  # the learned head (issue 9); old ones selectable
    read_every_k: int = 3  # expression reading per track every k-th analysed frame
    jpeg_quality: int = 70
    # Tiles show every captured frame up to this rate, with the newest analysis drawn on
    # it (detectors/display.py), so video stays smooth while analysis runs at its own rate.
    display_fps: float = 15.0
    tile_width: int = 640  # tiles are downscaled to this before encoding
    workers: int = 2
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    # Watchdog (issue 6, see detectors/watchdog.py): a frame still in analysis after this
    # many seconds is abandoned and its camera gets a fresh pipeline; 0 turns it off.
    # 20 s is far above the slowest frame measured here (cold OpenVINO start, ~2 s).
    frame_timeout_s: float = 20.0
    max_abandoned_threads: int = 4  # beyond this, Runner.fatal is set: restart the process


@dataclass
class SharedModels:
    """One copy of each model for every camera of the store, typed by its stage's Protocol."""

    person: PersonModel
    face: FaceDetector | None = None
    expression: ExpressionReader | None = None

    def __post_init__(self) -> None:
        # Fail at construction, naming the stage, rather than on a camera's first frame.
        from storelens.detectors.expressions import ExpressionReader
        from storelens.detectors.faces import FaceDetector
        from storelens.detectors.persons import PersonModel

        for stage, model, protocol in (
            ("person", self.person, PersonModel),
            ("face", self.face, FaceDetector),
            ("expression", self.expression, ExpressionReader),
        ):
            if model is not None and not isinstance(model, protocol):
                raise TypeError(
                    f"{stage} model {type(model).__name__} is not a {protocol.__name__}"
                )

    @classmethod
    def load(cls, config: StoreLensConfig, options: PipelineOptions) -> SharedModels:
        from storelens.detectors.persons import PersonDetector

        m = config.models
        person = PersonDetector(
            m.person_backend,
            m.person_imgsz,
            m.person_conf,
            m.person_model,
            m.paths.get(m.person_model),
            m.person_device,
            m.person_precision,
        )
        face = expression = None
        if options.faces:
            from storelens.detectors.faces import make_face_detector

            face = make_face_detector(options.face_detector)
        if options.faces and options.expressions:
            from storelens.detectors.expression_readers import make_expression_reader

            expression = make_expression_reader(options.expression_reader)
        return cls(person, face, expression)

    def close(self) -> None:
        """Release native resources (MediaPipe tasks must be closed before exit)."""
        for model in (self.expression, self.face):
            close = getattr(model, "close", None)
            if close is not None:
                close()
