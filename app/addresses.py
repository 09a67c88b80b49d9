"""Where the dashboard and the tile server listen, and how this machine dials them.

Without sign-in (demo mode) everyone who reaches the dashboard is an executive, so the
address depends on whether sign-in is configured; the tile server follows the dashboard's
address, and what ``<db>.services.json`` publishes must be dialable (never a wildcard).
"""

from __future__ import annotations

import os
from pathlib import Path

from storelens.kernel.paths import PROJECT_ROOT

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def sign_in_configured(env: dict | None = None) -> bool:
    """Whether the dashboard will ask for a sign-in (local users or OIDC), read from the same
    secrets.toml files Streamlit reads (``~/.streamlit`` and the project's ``.streamlit``)."""
    import tomllib

    from storelens.dashboard.auth import AuthError, auth_config

    merged: dict = {}
    for path in (
        Path.home() / ".streamlit" / "secrets.toml",
        PROJECT_ROOT / ".streamlit" / "secrets.toml",
    ):
        try:
            merged.update(tomllib.loads(path.read_text()))
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError):
            return True  # unreadable: the dashboard refuses to sign anyone in, no demo
    try:
        return auth_config(merged, os.environ if env is None else env).mode != "demo"
    except AuthError:
        return True  # misconfigured users: the sign-in page shows the error, never data


def dashboard_address(host: str | None, signin: bool) -> tuple[str | None, str]:
    """Where the dashboard listens, and the line that says so at start.

    Without sign-in (demo mode) everyone who reaches the port is an executive, so it
    listens on 127.0.0.1 unless ``--host`` opts in to more; with sign-in Streamlit's
    default (every interface) stays.
    """
    if host is not None and not host.strip():
        raise ValueError("--host must be an address such as 127.0.0.1 or 0.0.0.0")
    if signin:
        return host, f"sign-in required; listening on {host or 'every interface'}"
    if host is None:
        return "127.0.0.1", (
            "demo mode without sign-in: listening on 127.0.0.1 only "
            "(--host 0.0.0.0 opens it to the network)"
        )
    if host in LOOPBACK:
        return host, f"demo mode without sign-in: listening on {host} only"
    return host, (
        f"WARNING: demo mode without sign-in on {host}: anyone who reaches this machine "
        "sees every store as an executive"
    )


WILDCARDS = ("0.0.0.0", "::", "")


def tile_host_for(address: str | None) -> str:
    """Where the tile server listens for a dashboard bound to ``address`` (issue 18, item 2).

    The browser pulls the tiles from the same host it reached the dashboard by, so the tile
    server listens wherever the dashboard does: loopback when the dashboard is loopback only
    (the default in demo mode), every interface when the dashboard listens on every one
    (``None``: Streamlit's default, as with sign-in), else that very address."""
    if address is None or address in WILDCARDS:
        return "0.0.0.0"
    return address


def reachable_host(bind: str) -> str:
    """The address a process on this machine connects to for a server bound to ``bind``
    (what ``<db>.services.json`` publishes: a wildcard is not an address to dial)."""
    if bind in WILDCARDS:
        return "127.0.0.1"
    return f"[{bind}]" if ":" in bind else bind
