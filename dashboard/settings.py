"""The store config the Setup page edits: ``<STORELENS_HOME>/store.toml``.

Cameras, lines, zones and privacy settings are the pipeline's config (detectors.config),
so Setup writes that file, validated by the same pydantic models, and the pipeline applies
it when it (re)starts. Writes are atomic (temp file + rename); a config that does not
validate is never written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
from storelens.data.kpi import MIN_GROUP
from storelens.kernel.config import (
    CameraConfig,
    StoreConfig,
    StoreLensConfig,
    active_config_path,
    load_config,
    parse_config,
    saved_config_path,
)
from storelens.kernel.errors import StoreLensError


def settings_path() -> Path:
    """The file Setup saves to: the config in force, so the pipeline starts from what was
    saved (one resolver for both: :func:`storelens.kernel.config.active_config_path`)."""
    return active_config_path() or saved_config_path()


def load_store_config() -> StoreLensConfig | None:
    """The config in force, or None for the built-in demo store."""
    path = active_config_path()
    return load_config(path) if path is not None else None


def min_group_size() -> int:
    """The minimum group for satisfaction figures as Setup saved it, else the default.

    Read on every page run (a TOML parse, well under a millisecond's worth of work next to
    the queries), so a saved value shows on the next click, without a restart."""
    try:
        config = load_store_config()
    except StoreLensError:
        return MIN_GROUP  # safe mode explains the broken file; figures keep the default
    return config.privacy.min_group_size if config is not None else MIN_GROUP


def config_from_catalog(
    stores: pl.DataFrame, cameras: pl.DataFrame, store_id: str
) -> StoreLensConfig:
    """A starting config from the database catalog (sources as stored: masked)."""
    row = stores.filter(pl.col("store_id") == store_id).row(0, named=True)
    store = StoreConfig(
        store_id=row["store_id"],
        name=row["name"],
        region=row["region"],
        timezone=row["timezone"],
        open_hour=row["open_hour"],
        close_hour=row["close_hour"],
        area_m2=row["area_m2"],
    )
    cams = []
    for cam in cameras.filter(pl.col("store_id") == store_id).iter_rows(named=True):
        lines, zones = json.loads(cam["lines"] or "[]"), json.loads(cam["zones"] or "[]")
        cams.append(
            CameraConfig(
                camera_id=cam["camera_id"],
                name=cam["name"],
                role=cam["role"],
                source=cam["source_masked"] or "unset",
                lines=_catalog_lines(lines),
                zones=_catalog_zones(zones),
            )
        )
    return StoreLensConfig(store=store, cameras=cams)


def _catalog_lines(raw: Any) -> list[dict]:
    """The catalog holds lines either as config dicts (pipeline) or {name: [[x, y], [x, y]]}."""
    if isinstance(raw, dict):
        return [{"name": n, "start": p[0], "end": p[1]} for n, p in raw.items() if len(p) == 2]
    return raw if isinstance(raw, list) else []


def _catalog_zones(raw: Any) -> list[dict]:
    """Zones either as config dicts (pipeline) or {name: [[x, y], ...]}."""
    if isinstance(raw, dict):
        return [{"name": n, "polygon": p} for n, p in raw.items()]
    return raw if isinstance(raw, list) else []


def with_camera(config: StoreLensConfig, camera: CameraConfig) -> StoreLensConfig:
    """``config`` with ``camera`` added, or replacing the camera with the same id."""
    cameras = [c for c in config.cameras if c.camera_id != camera.camera_id] + [camera]
    return parse_config(
        {**config.model_dump(mode="json"), "cameras": [c.model_dump(mode="json") for c in cameras]},
        "Setup",
    )


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def to_toml(config: StoreLensConfig) -> str:
    """TOML for a config (tables for sections, an array of tables for cameras)."""
    data = config.model_dump(mode="json", exclude_none=True)
    out: list[str] = ["# StoreLens store config, written by the dashboard's Setup page."]
    for section in ("store", "models", "privacy", "alerts"):
        out.append(f"\n[{section}]")
        values = data.get(section, {})
        out += [f"{k} = {_toml_value(v)}" for k, v in values.items() if k != "channels"]
    # Push channels (issue 19 item 6) survive a save from Setup, credentials and all (the
    # file is private, 0600); no page shows them.
    for channel in data.get("alerts", {}).get("channels", []):
        out.append("\n[[alerts.channels]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in channel.items()]
    for camera in data.get("cameras", []):
        out.append("\n[[cameras]]")
        out += [f"{k} = {_toml_value(v)}" for k, v in camera.items()]
    return "\n".join(out) + "\n"


def save_store_config(config: StoreLensConfig, path: Path | None = None) -> Path:
    """Validate by re-reading the TOML, then write it atomically."""
    path = path or settings_path()
    text = to_toml(config)
    import tomllib

    parse_config(tomllib.loads(text), str(path))  # what we write must load back
    # 0600 from the first byte: camera sources may carry credentials (rtsp://user:pass@…).
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)  # O_CREAT keeps the mode of a leftover tmp file
    tmp.replace(path)
    return path


def config_problem() -> str | None:
    """Why the store config cannot be used (safe mode), or None when it is fine.

    ``storelens up`` passes the pipeline's config error in the environment; a config saved
    or edited since is checked here too, so the message is never older than the file.
    """
    from storelens.kernel.config import CONFIG_ERROR_ENV
    from storelens.kernel.errors import ConfigError

    try:
        load_store_config()
    except ConfigError as exc:
        return str(exc)
    return os.environ.get(CONFIG_ERROR_ENV) or None
