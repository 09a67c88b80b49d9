"""Setup (admin only): cameras with lines and zones over a still frame, imports of sales
and shifts with their validation report, retention and privacy settings."""

import io
import json

import polars as pl
import streamlit as st
from PIL import Image
from pydantic import ValidationError
from storelens.dashboard import charts, settings
from storelens.dashboard.privacy import retention_days
from storelens.dashboard.services import tile_still
from storelens.dashboard.session import data_errors, page_context
from storelens.data.errors import DataError, ImportRejected
from storelens.data.reader import ApiReader, uncached
from storelens.kernel.config import CameraConfig, CameraRole, PrivacyConfig
from storelens.kernel.errors import StoreLensError
from storelens.kernel.paths import default_db_path

ctx = page_context()
st.title("Setup")
if not ctx.user.may_setup:  # app.py hides the page too; this guards a direct run
    st.error("Access denied: Setup is for admins.")
    st.stop()

with data_errors():
    stores = ctx.reader.query("stores", {})
    cameras = ctx.reader.query("cameras", {})
try:
    config = settings.load_store_config()
except StoreLensError as exc:
    st.error(f"The saved config does not load: {exc}")
    st.stop()
if config is None and stores.height:
    store_id = "demo" if "demo" in stores["store_id"].to_list() else stores["store_id"][0]
    config = settings.config_from_catalog(stores, cameras, store_id)
if config is None:
    st.info("No store yet: run `storelens up` or `storelens demo seed` first.")
    st.stop()

st.caption(
    f"Editing the config of store **{config.store.store_id}** → "
    f"`{settings.settings_path()}` (the pipeline applies it when it restarts)."
)
tab_cams, tab_imports, tab_privacy = st.tabs(["Cameras", "Imports", "Retention & privacy"])

with tab_cams:
    st.dataframe(cameras.filter(pl.col("store_id") == config.store.store_id), hide_index=True)
    ids = [c.camera_id for c in config.cameras]
    choice = st.selectbox("Camera", [*ids, "(new camera)"], key="cam_choice")
    current = next((c for c in config.cameras if c.camera_id == choice), None)
    camera_id = st.text_input(
        "Camera id",
        current.camera_id if current else "",
        key="cam_id",
        disabled=current is not None,
    )
    name = st.text_input("Name", current.name if current else "", key="cam_name")
    roles = [r.value for r in CameraRole]
    role = st.selectbox(
        "Role", roles, roles.index(current.role.value) if current else 0, key="cam_role"
    )
    source = st.text_input(
        "Source (file, rtsp://, http://, webcam index); empty = keep",
        "",
        type="password",
        key="cam_source",
    )
    lines_text = st.text_area(
        'Lines (JSON: [{"name", "start": [x, y], "end": [x, y]}])',
        json.dumps([ln.model_dump(mode="json") for ln in current.lines] if current else []),
        key="cam_lines",
    )
    zones_text = st.text_area(
        'Zones (JSON: [{"name", "kind", "polygon": [[x, y], ...]}])',
        json.dumps([z.model_dump(mode="json") for z in current.zones] if current else []),
        key="cam_zones",
    )
    try:
        lines, zones = json.loads(lines_text or "[]"), json.loads(zones_text or "[]")
        candidate = CameraConfig(
            camera_id=camera_id,
            name=name or camera_id,
            role=role,
            source=source or (current.source if current else ""),
            lines=lines,
            zones=zones,
        )
        problem = None
    except ValidationError as exc:
        candidate = None
        problem = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
    except ValueError as exc:  # the JSON itself
        candidate, problem = None, f"lines/zones are not valid JSON: {exc}"
    still = tile_still(camera_id) if camera_id else None
    size = Image.open(io.BytesIO(still)).size if still else (640, 480)
    if candidate is not None:
        st.plotly_chart(
            charts.frame_overlay(
                still,
                size[0],
                size[1],
                [ln.model_dump(mode="json") for ln in candidate.lines],
                [z.model_dump(mode="json") for z in candidate.zones],
                title="Lines and zones"
                + ("" if still else " (no still frame: pipeline not running)"),
            ),
            width="stretch",
        )
    elif not camera_id:
        st.info("New camera: fill in id, name and source.")
    else:
        st.error(f"Not valid yet: {problem}")
    if st.button("Save camera", disabled=candidate is None, key="cam_save") and candidate:
        try:
            path = settings.save_store_config(settings.with_camera(config, candidate))
        except (StoreLensError, ValueError) as exc:
            st.error(str(exc))
        else:
            st.success(f"Saved {candidate.camera_id} to {path}; restart the pipeline to apply.")

with tab_imports:
    kind = st.radio("Import", ["sales", "shifts"], horizontal=True, key="imp_kind")
    st.caption(
        "sales: ts, store_id, amount[, register, transaction_id] · shifts: store_id, "
        "staff_role, start_ts, end_ts, hourly_cost[, staff_id, shift_id] — CSV or Parquet. "
        "A file with any bad row changes nothing; the same file twice adds nothing."
    )
    # A fresh uploader after every import: when the browser refuses the next file (over
    # server.maxUploadSize), the widget would still hold the previous one, and "Import"
    # imported that. The button names the file it will import, too.
    generation = st.session_state.setdefault("imp_generation", 0)
    upload = st.file_uploader("File", type=["csv", "parquet"], key=f"imp_file_{generation}")
    size = f"{upload.size / 1024:,.1f} KB" if upload is not None else ""
    if upload is not None and st.button(f"Import {upload.name} ({size})", key="imp_go"):
        st.session_state["imp_generation"] = generation + 1
        content = upload.getvalue()
        try:
            # the pipeline holds the file: its writer imports
            if isinstance(uncached(ctx.reader), ApiReader):
                report = ctx.reader.import_file(kind, upload.name, content)
            else:  # no pipeline: a short-lived writer on the file
                from storelens.data.imports import import_content

                close = getattr(ctx.reader, "close", None)
                if close is not None:
                    close()  # our read-only handle would block the writer's open
                db_path = getattr(ctx.reader, "db_path", None) or default_db_path()
                report = import_content(db_path, kind, upload.name, content).as_dict()
        except ImportRejected as exc:
            st.error(f"Rejected, nothing changed: {exc}")
            report = exc.report.as_dict() if hasattr(exc.report, "as_dict") else exc.report
        except DataError as exc:
            st.error(f"Import failed, nothing changed: {exc}")
            report = None
        else:
            st.success(
                f"Imported: {report.get('rows_added')} rows added, "
                f"{report.get('rows_already_present')} already present."
            )
        if report:
            errors = report.get("errors") or []
            if errors:
                st.dataframe(pl.DataFrame(errors), hide_index=True)
            st.json({k: v for k, v in report.items() if k != "errors"}, expanded=False)

with tab_privacy:
    privacy = config.privacy
    days = retention_days(privacy=privacy)
    st.dataframe(
        pl.DataFrame({"table": list(days), "days": [str(v or "∞") for v in days.values()]}),
        hide_index=True,
    )
    st.caption("Faces are blurred on every live tile, for every role: that is not a setting.")
    with st.form("privacy"):
        detections = st.number_input(
            "Keep person boxes (days)", 1, 90, privacy.detections_retention_days
        )
        events = st.number_input("Keep visit events (days)", 7, 3650, privacy.events_retention_days)
        min_group = st.number_input(
            "Minimum group for satisfaction", 2, 1000, privacy.min_group_size
        )
        if st.form_submit_button("Save privacy settings"):
            new = PrivacyConfig(
                min_group_size=int(min_group),
                detections_retention_days=int(detections),
                events_retention_days=int(events),
            )
            saved = settings.save_store_config(config.model_copy(update={"privacy": new}))
            st.success(
                f"Saved to {saved}. The minimum group applies to every page at once; "
                "retention when the pipeline restarts (`storelens up`)."
            )
