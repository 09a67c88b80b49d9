"""Masking of secrets in text: credentials in camera URLs never reach the UI, logs or errors.

Its own light module (regular expressions only) so config validation can mask what it
echoes without importing OpenCV; in the kernel because the config (kernel/config.py) and
the camera sources (detectors/sources.py) both use it.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^\s/?#]*)@")
_SECRET_PARAMS = re.compile(
    r"(?P<key>[?&;](?:password|passwd|pwd|pass|token|access_token|api_key|apikey|key|secret|"
    r"auth|sig|signature)=)[^&;#\s]*",
    re.IGNORECASE,
)


def mask_url(text: str) -> str:
    """Hide credentials in a URL (or in any text containing URLs).

    ``rtsp://admin:s3cret@10.0.0.5/live`` -> ``rtsp://admin:***@10.0.0.5/live``;
    a user-only token (``rtsp://tok@host``) becomes ``***``; secret-looking query
    parameters (``?token=...``) are masked too.
    """

    def userinfo(match: re.Match[str]) -> str:
        user, sep, _ = match["userinfo"].partition(":")
        hidden = f"{user}:***" if sep else "***"
        return f"{match['scheme']}{hidden}@"

    return _SECRET_PARAMS.sub(lambda m: f"{m['key']}***", _USERINFO.sub(userinfo, text))


# What went wrong with a camera's source, in words a manager can act on; never the source
# itself (a path, an internal URL) nor the library's error text. First match wins.
_SOURCE_PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), category)
    for pattern, category in (
        (r"stopped delivering|read failed", "stream stopped"),
        (r"end of stream", "the video ended"),
        (r"cannot decode|corrupt", "cannot decode"),
        (r"no such (?:file|camera)|no images", "source not found"),
        (r"unsupported scheme|empty camera source", "unsupported source"),
        (r"cannot open|refused|unauthori[sz]ed|timed? ?out|no answer", "cannot open the source"),
    )
)
SOURCE_PROBLEM_DEFAULT = "camera error"
SOURCE_PROBLEMS = frozenset(
    [*(category for _, category in _SOURCE_PROBLEMS), SOURCE_PROBLEM_DEFAULT]
)


def source_problem(message: str | None) -> str | None:
    """A short category for a camera error (``"cannot decode"``, ``"stream stopped"``...),
    or None when there was no error. Built from fixed words only, so nothing of the message
    (paths, URLs, credentials, library text) can reach a reader who must not see sources.
    """
    if not message or not message.strip():
        return None
    if message in SOURCE_PROBLEMS:  # already a category (an alert's detail read back)
        return message
    for pattern, category in _SOURCE_PROBLEMS:
        if pattern.search(message):
            return category
    return SOURCE_PROBLEM_DEFAULT


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_PATH = re.compile(r"(?<![\w.])(?:~|[A-Za-z]:)?[/\\][^\s()'\"]+")


def hide_locations(text: str) -> str:
    """``text`` with every URL and file path replaced by ``[source]``: for texts shown to
    people who may read the situation but not where a camera's stream comes from."""
    return _PATH.sub("[source]", _URL.sub("[source]", text))
