"""Setup (admin only): cameras with lines and zones over a still frame, imports of sales
and shifts with their validation report, retention and privacy settings."""

import polars as pl
import streamlit as st
from pydantic import ValidationError
from storelens.dashboard import camera_editor, settings
from storelens.dashboard.formatting import table as show_table
from storelens.dashboard.privacy import retention_days
from storelens.dashboard.session import data_errors, page_context
from storelens.data.errors import DataError, ImportRejected
from storelens.data.reader import ApiReader, uncached
from storelens.kernel.config import PrivacyConfig
from storelens.kernel.errors import StoreLensError
from storelens.kernel.paths import default_db_path


def _bounds_text(field: str) -> str:
    """The bounds of a PrivacyConfig field in words ("between 2 and 1,000"), from the model."""
    lo = hi = None
    for rule in PrivacyConfig.model_fields[field].metadata:
        lo = getattr(rule, "ge", lo)
        hi = getattr(rule, "le", hi)
    return f"a whole number between {lo:,} and {hi:,}"


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
    f"Editing the config of store **{config.store.name}** ({config.store.store_id}) → "
    f"`{settings.settings_path()}` (the pipeline applies it when it restarts)."
)
tab_cams, tab_imports, tab_privacy = st.tabs(["Cameras", "Imports", "Retention & privacy"])

with tab_cams:
    camera_editor.render(config, cameras)


def _run_import(kind: str, upload_key: str) -> None:
    """Import the uploaded file (button callback); the outcome is shown by the page."""
    upload = st.session_state.get(upload_key)
    st.session_state["imp_generation"] = st.session_state.get("imp_generation", 0) + 1
    st.session_state.pop("imp_pending", None)
    if upload is None:
        return
    _import(kind, upload.name, upload.getvalue(), force=False)


def _confirm_import() -> None:
    """The admin checked the flagged rows and confirms them (button callback)."""
    pending = st.session_state.pop("imp_pending", None)
    if pending is not None:
        _import(*pending, force=True)


def _import(kind: str, name: str, content: bytes, force: bool) -> None:
    """Import one file's bytes; ``force`` writes rows flagged implausible (confirmed)."""
    try:
        # the pipeline holds the file: its writer imports
        if isinstance(uncached(ctx.reader), ApiReader):
            report = ctx.reader.import_file(kind, name, content, force)
        else:  # no pipeline: a short-lived writer on the file
            from storelens.data.imports import import_content

            close = getattr(ctx.reader, "close", None)
            if close is not None:
                close()  # our read-only handle would block the writer's open
            db_path = getattr(ctx.reader, "db_path", None) or default_db_path()
            report = import_content(db_path, kind, name, content, force).as_dict()
    except ImportRejected as exc:
        report = exc.report.as_dict() if hasattr(exc.report, "as_dict") else exc.report
        outcome = ("error", f"Rejected, nothing changed: {exc}", report)
        if report and report.get("needs_confirmation"):
            # Implausible rows against the store's history: written only once confirmed.
            st.session_state["imp_pending"] = (kind, name, content)
    except DataError as exc:
        outcome = ("error", f"Import failed, nothing changed: {exc}", None)
    else:
        outcome = (
            "ok",
            f"Imported {name}: {report.get('rows_added'):,} rows added, "
            f"{report.get('rows_already_present'):,} already present.",
            report,
        )
    st.session_state["imp_outcome"] = outcome


with tab_imports:
    kind = st.radio("Import", ["sales", "shifts"], horizontal=True, key="imp_kind")
    st.caption(
        "sales: ts, store_id, amount[, register, transaction_id] · shifts: store_id, "
        "staff_role, start_ts, end_ts, hourly_cost[, staff_id, shift_id] — CSV or Parquet. "
        "A file with any bad row changes nothing; the same file twice adds nothing."
    )
    # A fresh uploader after every import, refused or not: the import runs in the button's
    # callback, before the page draws, so the page that shows the outcome already has an
    # empty uploader (a refused file stayed in it, ready to be "imported" again). When the
    # browser refuses the next file (over server.maxUploadSize) the widget cannot hold the
    # previous one either. The button names the file it will import.
    generation = st.session_state.setdefault("imp_generation", 0)
    upload_key = f"imp_file_{generation}"
    upload = st.file_uploader("File", type=["csv", "parquet"], key=upload_key)
    if upload is not None:
        st.session_state.pop("imp_outcome", None)  # a new file: the last outcome is history
        st.button(
            f"Import {upload.name} ({upload.size / 1024:,.1f} KB)",
            key="imp_go",
            on_click=_run_import,
            args=(kind, upload_key),
        )
    if outcome := st.session_state.get("imp_outcome"):
        level, message, report = outcome
        (st.success if level == "ok" else st.error)(message)
        if report:
            errors = report.get("errors") or report.get("flagged") or []
            if errors:
                show_table(st, pl.DataFrame(errors))
            pending = st.session_state.get("imp_pending")
            if pending is not None:
                st.button(
                    f"Import {pending[1]} anyway: the {report['flagged_total']:,} flagged "
                    "row(s) are right",
                    key="imp_confirm",
                    on_click=_confirm_import,
                    type="primary",
                )
            st.json({k: v for k, v in report.items() if k != "errors"}, expanded=False)

with tab_privacy:
    privacy = config.privacy
    days = retention_days(privacy=privacy)
    show_table(
        st,
        pl.DataFrame({"table": list(days), "days": [str(v or "∞") for v in days.values()]}),
        hide_index=True,
    )
    st.caption("Faces are blurred on every live tile, for every role: that is not a setting.")
    # No bounds on the inputs themselves: a number input clamps or ignores an out-of-range
    # entry without a word (minimum group 100000 did nothing, silently). The config's own
    # model checks the values and the page names the bound that was broken.
    labels = {
        "detections_retention_days": "Keep person boxes (days)",
        "events_retention_days": "Keep visit events (days)",
        "min_group_size": "Minimum group for satisfaction",
    }
    with st.form("privacy"):
        values = {
            field: st.number_input(
                label, value=getattr(privacy, field), step=1, help=_bounds_text(field)
            )
            for field, label in labels.items()
        }
        if st.form_submit_button("Save privacy settings"):
            try:
                new = PrivacyConfig(**{f: int(v) for f, v in values.items()})
                saved = settings.save_store_config(config.model_copy(update={"privacy": new}))
            except ValidationError as exc:
                for e in exc.errors():
                    field = str(e["loc"][0]) if e["loc"] else ""
                    st.error(
                        f"Not saved: {labels.get(field, field)} must be "
                        f"{_bounds_text(field)}, got {int(values.get(field) or 0):,}."
                    )
            except StoreLensError as exc:
                st.error(f"Not saved: {exc}")
            else:
                st.success(
                    f"Saved to {saved}. The minimum group applies to every page at once; "
                    "retention when the pipeline restarts (`storelens up`)."
                )
