"""The detectors room's exceptions: library errors are translated into these at the
boundary, with messages a store manager or installer can act on.

The root ``StoreLensError`` and ``ConfigError`` live in :mod:`storelens.kernel.errors`
(shared with the data room); they are re-exported here for the detectors' callers.
"""

from storelens.kernel.errors import ConfigError, StoreLensError

__all__ = [
    "ConfigError",
    "DeviceNotAvailable",
    "MediaNotFound",
    "ModelError",
    "ModelHashMismatch",
    "ModelNotFound",
    "SourceError",
    "StoreLensError",
]


class ModelError(StoreLensError):
    """A model file is missing, has the wrong hash, or cannot be loaded."""


class ModelNotFound(ModelError):
    """No provider in the chain could supply the model file."""


class ModelHashMismatch(ModelError):
    """A model file's SHA-256 differs from the registry; it was not loaded."""


class SourceError(StoreLensError):
    """A camera source cannot be opened or read."""


class MediaNotFound(StoreLensError):
    """No demo footage was found anywhere in the provider chain."""


class DeviceNotAvailable(StoreLensError):
    """The accelerator asked for (``--device`` / ``models.person_device``) is not here."""
