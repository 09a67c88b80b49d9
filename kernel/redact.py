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
