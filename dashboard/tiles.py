"""Markup and script for the live tiles (no Streamlit import: the Live page passes the
result to ``st.html``).

The browser reads each camera's MJPEG stream itself (see assets/tiles.js for why it uses
fetch() rather than an ``<img>``); this module only lays the tiles out and hands the script
its settings. Thresholds are module constants so tests and the page agree on them.
"""

from __future__ import annotations

import html
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from storelens.data.storetime import zone_name
from storelens.kernel.tile_tokens import MAX_TOKEN_S, sign_stream_token

# A tile turns grey once no frame arrived for this long. The demo pipeline delivers a frame
# every 0.12-0.2 s (5-8 fps), so 1.5 s is several missed frames, yet the tile shows
# "stale" within the 2 s the issue asks for (the check runs every TICK_MS).
STALE_MS = 1500
# A stream without a frame for this long is closed and opened again (with back-off from
# 0.5 s to 5 s): after a pipeline restart the old connection may stay silent forever.
RECONNECT_MS = 3000
TICK_MS = 250
# The Live page lays tiles at most two a row, so in a 1400 px wide window no tile is
# narrower than this; detectors/overlay.py sizes its labels to be >= 12 px at that width.
TILE_MIN_CSS_PX = 330

_ASSETS = Path(__file__).with_name("assets")
# Renewal tickets unused for this long are forgotten: the open page renews every third of
# the token lifetime, so only a closed (or frozen) page's ticket gets that old.
TICKET_IDLE_S = 300.0


def token_lifetime_s() -> int:
    """Seconds a tile token lives: ``MAX_TOKEN_S`` (60), shorter with env
    ``STORELENS_TILE_TOKEN_S`` (tests use a few seconds to watch renewal and expiry)."""
    raw = os.environ.get("STORELENS_TILE_TOKEN_S") or str(MAX_TOKEN_S)
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 2 <= value <= MAX_TOKEN_S:
        raise ValueError(f"STORELENS_TILE_TOKEN_S must be 2..{MAX_TOKEN_S} seconds, got {raw!r}")
    return value


@dataclass
class RenewalTicket:
    """What one rendering of the Live page may renew: these cameras, for this session."""

    cameras: frozenset[str]
    tag: str  # kernel.tile_tokens.session_tag of the cookie session, or UNBOUND
    signed_in: Callable[[], bool]  # False once the browser session signed out
    last_used: float = field(default_factory=time.monotonic)
    revoked: bool = False


class TileRenewals:
    """Tickets the open Live page trades for fresh tile tokens (``POST /session/tiles``).

    A ticket sits in the page's markup, so it is worth exactly what the page is: it renews
    only the cameras that page showed, and only while ``signed_in()`` holds (the Streamlit
    session still has its user and, for a cookie session, the cookie is not revoked).
    Sign-out revokes the session's tickets at once; they live in this process's memory.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._tickets: dict[str, RenewalTicket] = {}
        self._lock = threading.Lock()

    def issue(self, cameras: list[str], tag: str, signed_in: Callable[[], bool]) -> str:
        ticket = secrets.token_urlsafe(24)
        with self._lock:
            now = self.clock()
            self._tickets = {
                k: v for k, v in self._tickets.items() if now - v.last_used < TICKET_IDLE_S
            }
            self._tickets[ticket] = RenewalTicket(frozenset(cameras), tag, signed_in, now)
        return ticket

    def peek_tag(self, ticket: str) -> str | None:
        """The session tag of a live ticket (None: unknown or revoked)."""
        with self._lock:
            found = self._tickets.get(ticket)
        return None if found is None or found.revoked else found.tag

    def revoke(self, tickets: list[str]) -> None:
        with self._lock:
            for ticket in tickets:
                if found := self._tickets.pop(ticket, None):
                    found.revoked = True

    def renew(self, ticket: str, secret: bytes, ttl_s: int) -> dict[str, str] | None:
        """camera id -> a fresh token, or None when the ticket is unknown, old or its
        session signed out (the page's tiles then end with their tokens)."""
        with self._lock:
            found = self._tickets.get(ticket)
            now = self.clock()
            if found is None or found.revoked or now - found.last_used >= TICKET_IDLE_S:
                return None
        try:
            ok = found.signed_in()
        except Exception:  # a session torn down under us counts as signed out
            ok = False
        if not ok:
            self.revoke([ticket])
            return None
        found.last_used = now
        return {c: sign_stream_token(secret, c, ttl_s=ttl_s, tag=found.tag) for c in found.cameras}


RENEWALS = TileRenewals()


@dataclass(frozen=True)
class Tile:
    camera_id: str
    name: str
    stream_url: str  # signed, absolute URL of the camera's MJPEG stream
    state: str = ""  # the pipeline's camera state (online / reconnecting / offline), if known
    since: str = ""  # since when, as the store's clock reads (shown when not online)


# Set by the TLS reverse proxy (docs/nginx-storelens.conf) on requests to the dashboard:
# the path under which the same proxy serves the tile server, on the dashboard's origin.
TILE_PATH_HEADER = "X-StoreLens-Tile-Path"
_SAFE_PATH = re.compile(r"/[A-Za-z0-9_\-/]{0,63}")


def browser_tile_base(
    published: str, host_header: str | None, proxied_path: str | None = None
) -> str:
    """The tile server as the *browser* reaches it (issue 18, items 2 and 8).

    Behind the TLS proxy (``proxied_path``, from :data:`TILE_PATH_HEADER`, e.g. ``/tiles``)
    the tiles come from the page's own origin and scheme: a relative base. Otherwise
    ``published`` is where the pipeline says its tile server listens, as reached from this
    machine (``http://127.0.0.1:PORT``); the browser must use the host it reached the
    dashboard by (a tablet: ``http://192.168.1.20:8501`` -> ``http://192.168.1.20:PORT``),
    taken from the request's ``Host`` header, IPv6 brackets kept. No header: ``localhost``.
    A header value that is not a plain path (a client's own invention) is ignored.
    """
    if proxied_path and _SAFE_PATH.fullmatch(proxied_path) and "//" not in proxied_path:
        return proxied_path.rstrip("/")
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


def tile_grid_html(
    tiles: list[Tile],
    per_row: int,
    time_zone: str | None = None,
    ticket: str | None = None,
    lifetime_s: int = MAX_TOKEN_S,
) -> str:
    """One block of tiles in a ``per_row`` grid, with the script that runs them.

    With a ``ticket`` (:class:`TileRenewals`) the script renews the tokens every third of
    ``lifetime_s`` through ``POST /session/tiles`` and moves each stream to its new token
    before the old one expires.

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
        f'data-stream="{html.escape(t.stream_url)}" data-state="connecting" data-frames="0" '
        f'data-camera-state="{html.escape(t.state)}" data-camera-since="{html.escape(t.since)}">'
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
        # The zone's name as the rest of the page writes it (Python's zone data: "CET").
        "zoneName": zone_name(time_zone) if time_zone else None,
        "renewUrl": "/session/tiles" if ticket else None,
        "ticket": ticket,
        "renewMs": max(1000, lifetime_s * 1000 // 3),
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


def camera_state_script(states: dict[str, tuple[str, str]]) -> str:
    """A script that hands each tile its camera's state and since-when (camera id ->
    (state, since)), for the Live page's status fragment to refresh every few seconds: a
    tile without frames then says "camera offline since 14:05", not "waiting for the
    camera…" (the tile script reads ``data-camera-state``)."""
    data = json.dumps(states).replace("<", "\\u003c")
    return (
        "<script>(function(states){for(const [cam,v] of Object.entries(states)){"
        "for(const el of document.querySelectorAll('.sl-tile')){"
        "if(el.dataset.camera===cam){el.dataset.cameraState=v[0];el.dataset.cameraSince=v[1];}"
        f"}}}})({data});</script>"
    )
