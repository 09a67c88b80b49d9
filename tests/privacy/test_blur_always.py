"""Blur cannot be turned off (issue 18, item 5).

Faces are blurred on every tile for every role. There used to be a ``privacy.blur_faces``
switch on Setup; it is gone, and an old config that still sets it (either value) is
refused with a message naming the file, the field and the fix, the way every config error
is surfaced: the CLI prints it and exits 2, ``storelens up`` starts the dashboard in safe
mode showing it. Real files, the real CLI and the real Streamlit page.
"""

from __future__ import annotations

import dataclasses
import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from storelens.detectors.display import compose_tile
from storelens.detectors.shared_models import PipelineOptions
from storelens.kernel.config import PrivacyConfig, load_config
from storelens.kernel.errors import ConfigError
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
APP = str(REPO / "dashboard" / "app.py")
STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


def old_config(path: Path, value: str) -> Path:
    path.write_text(
        f'[store]\nstore_id = "s1"\n\n[privacy]\nblur_faces = {value}\nmin_group_size = 5\n'
    )
    return path


@pytest.mark.parametrize("value", ["true", "false"])
def test_an_old_config_that_sets_blur_faces_is_refused_naming_file_field_and_fix(
    tmp_path: Path, value: str
) -> None:
    path = old_config(tmp_path / "store.toml", value)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "privacy.blur_faces" in message
    assert "delete the `blur_faces = ...` line" in message
    assert "always" in message  # why: it is not a setting any more
    assert "unknown key" not in message  # not the generic typo message


def test_the_pipeline_refuses_an_old_blur_config_in_one_message(tmp_path: Path) -> None:
    path = old_config(tmp_path / "old.toml", "false")
    out = subprocess.run(
        [STORELENS, "pipeline", "--config", str(path), "--db", str(tmp_path / "x.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr
    assert str(path) in out.stderr and "privacy.blur_faces" in out.stderr
    assert not (tmp_path / "x.duckdb").exists()  # refused before anything started


def test_the_dashboard_shows_the_old_blur_setting_in_safe_mode(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.setenv("STORELENS_DEMO", "1")
    monkeypatch.setenv("STORELENS_DB", str(tmp_path / "none.duckdb"))
    monkeypatch.delenv("STORELENS_CONFIG", raising=False)
    old_config(tmp_path / "store.toml", "false")
    at = AppTest.from_file(APP, default_timeout=60).run()
    errors = " ".join(e.value for e in at.error)
    assert "Safe mode" in errors
    assert "store.toml" in errors and "privacy.blur_faces" in errors and "delete" in errors
    assert not at.exception


def test_no_code_path_can_turn_tile_blurring_off() -> None:
    assert "blur_faces" not in PrivacyConfig.model_fields
    assert "blur_faces" not in {f.name for f in dataclasses.fields(PipelineOptions)}
    assert "blur_faces" not in inspect.signature(compose_tile).parameters
