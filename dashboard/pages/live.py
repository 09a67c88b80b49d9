"""Live: camera tiles (MJPEG pulled by the browser from the pipeline) and people per minute."""

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import charts
from dashboard.launcher import read_services
from dashboard.services import get_reader, tile_base_url
from detectors.stream import sign_stream_token, stream_secret

st.title("Live")
services = read_services()
cameras = services.get("cameras", [])
base = tile_base_url()

if not cameras or base is None:
    st.info("The pipeline is not running, so there are no live tiles. Start everything with `storelens up`.")
else:
    columns = st.columns(2 if len(cameras) > 1 else 1)
    secret = stream_secret()
    for i, camera in enumerate(cameras):
        token = sign_stream_token(secret, camera["camera_id"], faces=False)
        with columns[i % len(columns)]:
            st.image(f"{base}/stream/{camera['camera_id']}.mjpg?token={token}", caption=camera["name"])

reader = get_reader()
since = datetime.now(UTC) - timedelta(minutes=60)
camera_ids = [c["camera_id"] for c in cameras] or ["demo-cam-1"]
for camera_id in camera_ids[:1] if not cameras else camera_ids:
    frame = reader.query("people_per_minute", {"camera_id": camera_id, "since": since})
    st.plotly_chart(charts.people_per_minute(frame, f"People per minute — {camera_id}"), width="stretch")
