"""Setup → Cameras: a camera's fields, and its lines and zones drawn by clicking on the
camera's still (issue 19, item 8). The JSON of lines and zones stays, as an advanced view.

How drawing works: the still is a plotly chart with an invisible grid of points over it
(:func:`charts.frame_overlay` with ``click_step``), shown with ``on_select`` in "points"
mode, so each click on the picture reports the nearest grid point in frame pixels. Each
click adds a vertex to the shape being drawn; "Add zone" / "Add line" checks it with the
config's own pydantic models and appends it to the camera's lines or zones. After each
click the chart gets a new key, so its selection is empty again and clicking the same spot
twice still counts.

State lives in ``st.session_state`` under ``cam_*`` keys; every field is loaded from the
chosen camera when the choice changes, so "(new camera)" starts empty rather than with the
previous camera's values. Streamlit only (no SQL, no vision).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from functools import partial
from typing import Any

import polars as pl
import streamlit as st
from PIL import Image
from pydantic import ValidationError
from storelens.dashboard import charts, settings
from storelens.dashboard.formatting import table
from storelens.dashboard.services import tile_still
from storelens.kernel.config import CameraConfig, CameraRole, LineConfig, ZoneConfig, ZoneKind
from storelens.kernel.errors import StoreLensError
from storelens.kernel.frame_size import jpeg_frame_size

NEW = "(new camera)"
DEFAULT_SIZE = (640, 480)  # canvas for a camera without a still (pipeline not running)
GRID_CELLS = 96  # click grid: this many points across the longer side (7 px at 640)


def _problem(exc: ValidationError) -> str:
    """A pydantic error in words: the field, what is wrong, the value given."""
    parts = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e["loc"]) or "value"
        given = e.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
        parts.append(f"{where}: {e['msg']}{shown}")
    return "; ".join(parts)


def _load(config: Any, choice: str) -> None:
    """Fill every field from the chosen camera (empty for a new one)."""
    current = next((c for c in config.cameras if c.camera_id == choice), None)
    state = st.session_state
    state["cam_id"] = current.camera_id if current else ""
    state["cam_name"] = current.name if current else ""
    state["cam_role"] = current.role.value if current else CameraRole.FLOOR.value
    state["cam_source"] = ""
    state["cam_lines"] = json.dumps(
        [ln.model_dump(mode="json") for ln in current.lines] if current else []
    )
    state["cam_zones"] = json.dumps(
        [z.model_dump(mode="json") for z in current.zones] if current else []
    )
    state["cam_draft"] = []
    state["cam_shape_name"] = ""
    state.pop("cam_shape_error", None)
    state["cam_loaded"] = choice


def _shapes(key: str) -> list[dict]:
    """The lines or zones as the JSON field holds them ([] while it is not valid JSON)."""
    try:
        value = json.loads(st.session_state.get(key) or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _clicked(chart_key: str) -> None:
    """A click on the still: the nearest grid point becomes the next vertex."""
    event = st.session_state.get(chart_key) or {}
    points = (event.get("selection") or {}).get("points") or []
    if points:
        st.session_state["cam_draft"] = [
            *st.session_state.get("cam_draft", []),
            [round(float(points[0]["x"])), round(float(points[0]["y"]))],
        ]
        st.session_state.pop("cam_shape_error", None)
    st.session_state["cam_canvas_gen"] = st.session_state.get("cam_canvas_gen", 0) + 1


def _undo() -> None:
    st.session_state["cam_draft"] = st.session_state.get("cam_draft", [])[:-1]


def _clear() -> None:
    st.session_state["cam_draft"] = []
    st.session_state.pop("cam_shape_error", None)


def _add_shape() -> None:
    """The clicked points as a new zone or line, checked by the config's own models."""
    state = st.session_state
    draft, name = state.get("cam_draft", []), (state.get("cam_shape_name") or "").strip()
    kind = state.get("cam_draw", "zone")
    try:
        if kind == "line":
            if len(draft) != 2:
                raise ValueError(
                    f"a line takes exactly 2 points, you clicked {len(draft)}: "
                    "undo or clear and click its two ends"
                )
            shape = LineConfig(name=name or "entrance", start=draft[0], end=draft[1])
            key = "cam_lines"
        else:
            if len(draft) < 3:
                raise ValueError(f"a zone takes at least 3 points, you clicked {len(draft)}")
            if not name:
                raise ValueError("give the zone a name (it labels the tile and the charts)")
            shape = ZoneConfig(name=name, kind=state.get("cam_zone_kind", "floor"), polygon=draft)
            key = "cam_zones"
    except ValidationError as exc:
        state["cam_shape_error"] = _problem(exc)
        return
    except ValueError as exc:
        state["cam_shape_error"] = str(exc)
        return
    existing = _shapes(key)
    taken = {s.get("name") for s in existing if isinstance(s, dict)}
    if shape.name in taken:
        state["cam_shape_error"] = f"there is already a {kind} named {shape.name!r}: pick another"
        return
    state[key] = json.dumps([*existing, shape.model_dump(mode="json")])
    state["cam_draft"], state["cam_shape_name"] = [], ""
    state.pop("cam_shape_error", None)


def _remove(key: str, index: int) -> None:
    shapes = _shapes(key)
    if 0 <= index < len(shapes):
        del shapes[index]
        st.session_state[key] = json.dumps(shapes)


def _candidate(current: CameraConfig | None) -> tuple[CameraConfig | None, str | None]:
    state = st.session_state
    try:
        lines = json.loads(state.get("cam_lines") or "[]")
        zones = json.loads(state.get("cam_zones") or "[]")
    except ValueError as exc:  # the JSON itself
        return None, f"lines/zones are not valid JSON: {exc}"
    camera_id = state.get("cam_id", "").strip()
    try:
        return (
            CameraConfig(
                camera_id=camera_id,
                name=state.get("cam_name", "").strip() or camera_id,
                role=state.get("cam_role", "floor"),
                source=state.get("cam_source") or (current.source if current else ""),
                lines=lines,
                zones=zones,
            ),
            None,
        )
    except ValidationError as exc:
        return None, _problem(exc)


def _drawing(still: bytes | None, size: tuple[int, int]) -> None:
    """The still with the lines and zones, the points clicked so far, and the tools."""
    state = st.session_state
    left, right = st.columns([3, 1])
    with right:
        st.radio("Draw a", ["zone", "line"], key="cam_draw", horizontal=True)
        drawing_line = state.get("cam_draw") == "line"
        st.text_input(
            "Name of the new line" if drawing_line else "Name of the new zone",
            key="cam_shape_name",
            placeholder="entrance" if drawing_line else "e.g. Service desk",
            live=True,  # registers while typing: no Enter needed before "Add"
        )
        if not drawing_line:
            kinds = [k.value for k in ZoneKind]
            st.selectbox(
                "Kind", kinds, key="cam_zone_kind", help="staff: behind the counter, no faces read"
            )
        draft = state.get("cam_draft", [])
        need = "2 points (start, end; in = to the right)" if drawing_line else "≥ 3 points"
        st.caption(f"Click on the picture to add points: {len(draft)} clicked, {need}.")
        st.button(
            f"Add {'line' if drawing_line else 'zone'}",
            key="cam_add_shape",
            on_click=_add_shape,
            type="primary",
            disabled=not draft,
        )
        c1, c2 = st.columns(2)
        c1.button("Undo point", key="cam_undo", on_click=_undo, disabled=not draft)
        c2.button("Clear", key="cam_clear", on_click=_clear, disabled=not draft)
        if error := state.get("cam_shape_error"):
            st.error(f"Not added: {error}")
        for key, label in (("cam_zones", "zone"), ("cam_lines", "line")):
            for i, shape in enumerate(_shapes(key)):
                if not isinstance(shape, dict):
                    continue
                kind = f" ({shape.get('kind', 'floor')})" if label == "zone" else ""
                st.button(
                    f"Remove {label} {shape.get('name', '?')}{kind}",
                    key=f"cam_rm_{key}_{i}",
                    on_click=_remove,
                    args=(key, i),
                    icon=":material/delete:",
                )
    with left:
        chart_key = f"cam_canvas_{state.get('cam_canvas_gen', 0)}"
        figure = charts.frame_overlay(
            still,
            size[0],
            size[1],
            [s for s in _shapes("cam_lines") if _valid(LineConfig, s)],
            [s for s in _shapes("cam_zones") if _valid(ZoneConfig, s)],
            title=(
                "Click to draw lines and zones"
                if still
                else "No still frame (the pipeline is not showing this camera): "
                "drawing on a blank frame"
            ),
            draft=draft,
            click_step=max(2, round(max(size) / GRID_CELLS)),
        )
        on_click: Callable[[], None] = partial(_clicked, chart_key)
        st.plotly_chart(
            figure,
            key=chart_key,
            on_select=on_click,
            selection_mode="points",
            width="stretch",
            config={"displayModeBar": False},
        )


def _valid(model: type, shape: Any) -> bool:
    try:
        model.model_validate(shape)
    except (ValidationError, TypeError):
        return False
    return True


def render(config: Any, cameras: pl.DataFrame) -> None:
    """The Cameras tab for the store config ``config`` (a StoreLensConfig)."""
    store_id = config.store.store_id
    listed = cameras.filter(pl.col("store_id") == store_id)
    if listed.height:
        table(
            st,
            listed.select(
                pl.col("name").alias("camera"),
                pl.col("camera_id").alias("id"),
                pl.col("role"),
            ),
            hide_index=True,
        )
    names = {c.camera_id: f"{c.name} ({c.camera_id})" for c in config.cameras}
    choice = st.selectbox(
        "Camera", [*names, NEW], key="cam_choice", format_func=lambda c: names.get(c, c)
    )
    if st.session_state.get("cam_loaded") != choice:
        _load(config, choice)
    current = next((c for c in config.cameras if c.camera_id == choice), None)
    c1, c2, c3 = st.columns(3)
    c1.text_input("Camera id", key="cam_id", disabled=current is not None, live=True)
    c2.text_input("Name", key="cam_name", live=True)
    c3.selectbox("Role", [r.value for r in CameraRole], key="cam_role")
    st.text_input(
        "Source (file, rtsp://, http://, webcam index); empty = keep"
        if current
        else "Source (file, rtsp://, http://, webcam index)",
        key="cam_source",
        type="password",
        live=True,
    )
    camera_id = st.session_state.get("cam_id", "").strip()
    still = tile_still(camera_id) if camera_id else None
    size = DEFAULT_SIZE
    if still:
        # Lines and zones are in the camera frame's pixels; the still is a tile, scaled
        # down to at most 640 px wide: the tile says the frame's own size.
        size = jpeg_frame_size(still) or Image.open(io.BytesIO(still)).size
    _drawing(still, size)
    with st.expander("Advanced: lines and zones as JSON"):
        st.text_area('Lines ([{"name", "start": [x, y], "end": [x, y]}])', key="cam_lines")
        st.text_area('Zones ([{"name", "kind", "polygon": [[x, y], ...]}])', key="cam_zones")
    candidate, problem = _candidate(current)
    if candidate is None:
        if camera_id or current is not None:
            st.error(f"Not valid yet, so it cannot be saved: {problem}")
        else:
            st.info("New camera: fill in id, name and source, then draw its lines and zones.")
    if st.button("Save camera", disabled=candidate is None, key="cam_save") and candidate:
        try:
            path = settings.save_store_config(settings.with_camera(config, candidate))
        except (StoreLensError, ValueError) as exc:
            st.error(f"Not saved: {exc}")
        else:
            st.success(
                f"Saved {candidate.name} ({candidate.camera_id}) to {path}: "
                f"{len(candidate.lines)} line(s), {len(candidate.zones)} zone(s). "
                "Restart the pipeline (`storelens up`) to apply."
            )
