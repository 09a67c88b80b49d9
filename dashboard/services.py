"""Shared handles for every page (``st.cache_resource``): the reader and where the
pipeline's servers listen. Pages never open cameras or models."""

from __future__ import annotations

import json
import urllib.request

import streamlit as st
from storelens.dashboard.tiles import TILE_PATH_HEADER, browser_tile_base
from storelens.data.reader import CachedReader, QueryCache, open_reader
from storelens.kernel.discovery import read_services as read_services_of
from storelens.kernel.paths import default_db_path


def read_services() -> dict:
    """Where the pipeline that owns the default database listens ({} when none runs).

    Read from the discovery file directly: pages never import the process launcher (which
    would pull the vision room, OpenCV included, into every page)."""
    return read_services_of(default_db_path())


@st.cache_resource(show_spinner=False)
def _reader_for(db_path: str, api_url: str | None) -> CachedReader:
    # One query cache per database, shared by every session: a manager opening a page
    # another opened a moment ago gets the same rows without running the SQL again.
    # Entries are keyed by the caller (session.page_context) and expire after
    # data.reader.ttl_for (2 s live, 30 s history).
    return CachedReader(open_reader(db_path, api_url), QueryCache())


def get_reader() -> CachedReader:
    """The read path: the running pipeline's read API when it is up, else the file read-only."""
    services = read_services()
    return _reader_for(str(services.get("db") or default_db_path()), services.get("read_api"))


def clear_query_cache() -> None:
    """Forget every cached query result (benchmarks; after out-of-band writes)."""
    get_reader().cache.clear()


def tile_base_url() -> str | None:
    """The tile server as the *browser* can reach it: same host the page came from, or
    the TLS proxy's tile path on the page's own origin."""
    tiles = read_services().get("tiles")
    if not tiles:
        return None
    headers = st.context.headers
    return browser_tile_base(tiles, headers.get("Host"), headers.get(TILE_PATH_HEADER))


def pipeline_store() -> str | None:
    """The store the pipeline running on this machine serves (None when none runs)."""
    return read_services().get("store_id")


def pipeline_cameras(store_id: str) -> list[dict]:
    """Cameras the running pipeline streams for ``store_id`` ([] when none runs here)."""
    services = read_services()
    if services.get("store_id") != store_id:
        return []
    return list(services.get("cameras", []))


def tile_status(timeout_s: float = 1.0) -> dict[str, dict]:
    """The tile server's /status JSON (camera id -> CameraStatus.as_dict()); {} if down.

    Fetched server-side from the address in services.json (not the browser's host)."""
    tiles = read_services().get("tiles")
    if not tiles:
        return {}
    from storelens.kernel.tile_tokens import status_url, stream_secret

    try:
        with urllib.request.urlopen(
            status_url(tiles, stream_secret()), timeout=timeout_s
        ) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return {}


def tile_still(camera_id: str, timeout_s: float = 2.0) -> bytes | None:
    """One JPEG still of ``camera_id`` from the tile server (Setup page), or None."""
    tiles = read_services().get("tiles")
    if not tiles:
        return None
    from storelens.kernel.tile_tokens import sign_stream_token, stream_secret

    token = sign_stream_token(stream_secret(), camera_id, ttl_s=60)
    try:
        with urllib.request.urlopen(
            f"{tiles}/frame/{camera_id}.jpg?token={token}", timeout=timeout_s
        ) as response:
            return response.read()
    except OSError:
        return None
