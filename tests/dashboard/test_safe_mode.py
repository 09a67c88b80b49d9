"""A bad config starts the dashboard in safe mode: the error names file, field and fix."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


def test_invalid_saved_config_shows_safe_mode_not_a_trace(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.setenv("STORELENS_DEMO", "1")
    monkeypatch.setenv("STORELENS_DB", str(tmp_path / "none.duckdb"))
    (tmp_path / "store.toml").write_text(
        '[[cameras]]\ncamera_id = "door"\nname = "Door"\nsource = "rtsp://u:pw1234@cam/x"\nzoom = 2\n'
    )
    at = AppTest.from_file(APP, default_timeout=60).run()
    errors = " ".join(e.value for e in at.error)
    assert "Safe mode" in errors
    assert "store.toml" in errors and "cameras[0].zoom" in errors and "unknown key" in errors
    assert "pw1234" not in errors
    assert not at.exception, "a bad config must never surface as a stack trace"
