"""The error root: every error StoreLens raises on purpose derives from :class:`StoreLensError`.

It lives in the kernel so both rooms can derive from it (data's ``DataError`` and the
detectors' errors), and one ``except StoreLensError`` at a boundary (the CLI, a page)
catches every expected failure with a message a store manager or installer can act on.
"""


class StoreLensError(Exception):
    """Base of every error StoreLens raises on purpose."""


class ConfigError(StoreLensError):
    """A config file or value is invalid; the message names the file, field and fix."""
