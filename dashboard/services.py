"""Shared handles for every page (``st.cache_resource``): the reader and where the
pipeline's servers listen. Pages never open cameras or models."""

from __future__ import annotations

import streamlit as st

from dashboard.launcher import default_db_path, read_services
from data.reader import Reader, open_reader


@st.cache_resource(show_spinner=False)
def _reader_for(db_path: str, api_url: str | None) -> Reader:
    return open_reader(db_path, api_url)


def get_reader() -> Reader:
    """The read path: the running pipeline's read API when it is up, else the file read-only."""
    services = read_services()
    return _reader_for(str(services.get("db") or default_db_path()), services.get("read_api"))


def tile_base_url() -> str | None:
    """The tile server as the *browser* can reach it: same host the page came from."""
    tiles = read_services().get("tiles")
    if not tiles:
        return None
    port = tiles.rsplit(":", 1)[1]
    host = (st.context.headers.get("Host") or "localhost").rsplit(":", 1)[0]
    return f"http://{host}:{port}"
