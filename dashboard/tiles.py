"""Markup and script for the live tiles (no Streamlit import: the Live page passes the
result to ``st.html``).

The browser reads each camera's MJPEG stream itself (see assets/tiles.js for why it uses
fetch() rather than an ``<img>``); this module only lays the tiles out and hands the script
its settings. Thresholds are module constants so tests and the page agree on them.
"""

from __future__ import annotations

import html
import json
import re
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

# A tile turns grey once no frame arrived for this long. The demo pipeline delivers a frame
# every 0.12-0.2 s (5-8 fps), so 1.5 s is several missed frames, yet the tile shows
# "stale" within the 2 s the issue asks for (the check runs every TICK_MS).
STALE_MS = 1500
# A stream without a frame for this long is closed and opened again (with back-off from
# 0.5 s to 5 s): after a pipeline restart the old connection may stay silent forever.
RECONNECT_MS = 3000
TICK_MS = 250

_ASSETS = Path(__file__).with_name("assets")


@dataclass(frozen=True)
class Tile:
    camera_id: str
    name: str
    stream_url: str  # signed, absolute URL of the camera's MJPEG stream


def browser_tile_base(published: str, host_header: str | None) -> str:
    """The tile server as the *browser* reaches it (issue 18, item 2).

    ``published`` is where the pipeline says its tile server listens, as reached from this
    machine (``http://127.0.0.1:PORT``); the browser must use the host it reached the
    dashboard by (a tablet: ``http://192.168.1.20:8501`` -> ``http://192.168.1.20:PORT``),
    taken from the request's ``Host`` header, IPv6 brackets kept. No header: ``localhost``.
    """
    port = urlsplit(published).port
    host = "localhost"
    if host_header:
        parsed = urlsplit(f"//{host_header.strip()}")
        if parsed.hostname:
            host = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    return f"http://{host}:{port}"


def stream_url(base: str, camera_id: str, token: str) -> str:
    """The signed MJPEG stream URL of one camera, as the Live page puts it in a tile."""
    return f"{base}/stream/{camera_id}.mjpg?token={token}"


# DOMPurify (inside st.html) removes any element without child elements whose text matches
# this, so a script containing e.g. "<img" in a comment would be dropped without a word.
_MARKUP_LIKE = re.compile(r"<[/\w!]")


@cache
def _script() -> str:
    script = (_ASSETS / "tiles.js").read_text()
    if found := _MARKUP_LIKE.search(script):
        raise ValueError(f"assets/tiles.js contains {found.group()!r}, which st.html would drop")
    return script


def tile_grid_html(tiles: list[Tile], per_row: int, time_zone: str | None = None) -> str:
    """One block of tiles in a ``per_row`` grid, with the script that runs them.

    Every call gets a fresh root id, so a copy still on screen while Streamlit swaps the
    page in never shares state with its successor.
    """
    if not tiles:
        raise ValueError("tile_grid_html needs at least one tile")
    if not 1 <= per_row <= 4:
        raise ValueError(f"per_row must be 1..4, got {per_row}")
    root_id = f"sl-tiles-{secrets.token_hex(6)}"
    cells = "".join(
        f'<figure class="sl-tile" data-camera="{html.escape(t.camera_id)}" '
        f'data-stream="{html.escape(t.stream_url)}" data-state="connecting" data-frames="0">'
        f'<div class="sl-frame"><img alt="{html.escape(t.name)} live view">'
        '<span class="sl-note"></span></div>'
        f"<figcaption>{html.escape(t.name)}</figcaption></figure>"
        for t in tiles
    )
    options = {
        "staleMs": STALE_MS,
        "reconnectMs": RECONNECT_MS,
        "tickMs": TICK_MS,
        "timeZone": time_zone or None,
    }
    style = (
        f"#{root_id}{{display:grid;grid-template-columns:repeat({per_row},minmax(0,1fr));"
        "gap:0.75rem}"
        f"#{root_id} .sl-tile{{margin:0}}"
        f"#{root_id} .sl-frame{{position:relative;aspect-ratio:16/9;background:#1e1e1e;"
        "border-radius:0.4rem;overflow:hidden}"
        f"#{root_id} img{{width:100%;height:100%;object-fit:contain;display:block}}"
        f"#{root_id} img:not([src]){{visibility:hidden}}"
        f'#{root_id} [data-state="stale"] img{{filter:grayscale(1) brightness(0.55)}}'
        f"#{root_id} .sl-note{{position:absolute;left:0;right:0;bottom:0;padding:0.3rem 0.5rem;"
        "color:#fff;background:rgba(60,60,60,0.85);font-size:0.85rem}"
        f"#{root_id} .sl-note:empty{{display:none}}"
        f"#{root_id} figcaption{{font-size:0.85rem;opacity:0.75;text-align:center;"
        "padding-top:0.2rem}"
    )
    # json.dumps escapes quotes; "<" becomes \u003c so no value can close the script tag or
    # look like markup to the sanitiser.
    call = f"StoreLensTiles({json.dumps(root_id)}, {json.dumps(options)});".replace("<", "\\u003c")
    return (
        f"<style>{style}</style><div id='{root_id}' class='sl-tiles'>{cells}</div>"
        f"<script>{_script()}\n{call}</script>"
    )
