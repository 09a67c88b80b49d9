"""One config resolver for the pipeline and the Setup page (issue 20 item 2).

The pipeline (``storelens up``/``pipeline`` via ``launcher.resolve_config``) and the Setup
page (``settings.load_store_config`` / ``settings_path``) used to apply env and the saved
file in opposite orders, so they could load different configs. Each row is a situation; both
sides must name the same file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from storelens.app.pipeline_process import resolve_config
from storelens.dashboard import settings
from storelens.kernel.config import active_config_path
from storelens.kernel.errors import StoreLensError


def _config(path: Path, store_id: str) -> Path:
    path.write_text(
        f'[store]\nstore_id = "{store_id}"\nname = "{store_id}"\n', encoding="utf-8"
    )
    return path


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    monkeypatch.setenv("STORELENS_HOME", str(home))
    monkeypatch.delenv("STORELENS_CONFIG", raising=False)
    return home


@pytest.mark.parametrize(
    ("saved", "env", "explicit", "winner"),
    [
        (False, False, False, None),
        (True, False, False, "saved"),
        (True, True, False, "env"),
        (False, True, False, "env"),
        (True, True, True, "explicit"),
    ],
)
def test_pipeline_and_setup_page_resolve_the_same_file(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, saved, env, explicit, winner
) -> None:
    files = {
        "saved": _config(home / "store.toml", "saved") if saved else None,
        "env": _config(tmp_path / "env.toml", "env") if env else None,
        "explicit": _config(tmp_path / "explicit.toml", "explicit") if explicit else None,
    }
    if env:
        monkeypatch.setenv("STORELENS_CONFIG", str(files["env"]))

    chosen = active_config_path(files["explicit"])
    assert chosen == (files[winner] if winner else None)

    pipeline = resolve_config(files["explicit"])
    if explicit:
        return  # --config reaches the dashboard as STORELENS_CONFIG (launcher), tested below
    page = settings.load_store_config()
    if winner is None:
        assert page is None  # the demo store: nothing saved yet
        assert settings.settings_path() == home / "store.toml"
    else:
        assert page is not None and page.store.store_id == winner
        assert pipeline.store.store_id == winner
        assert settings.settings_path() == files[winner]  # Setup saves what the pipeline reads


def test_a_named_config_that_is_missing_is_an_error_not_skipped(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(home / "store.toml", "saved")
    missing = tmp_path / "typo.toml"
    monkeypatch.setenv("STORELENS_CONFIG", str(missing))
    for load in (lambda: resolve_config(None), settings.load_store_config):
        with pytest.raises(StoreLensError, match=r"typo\.toml: config file not found"):
            load()
