"""A push channel's credentials never reach a page (issue 19 item 6): not on Setup (which
keeps the channels when it saves), not on Live, not in safe mode's error for a bad channel."""

from __future__ import annotations

import tomllib
from pathlib import Path

from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
SECRETS = ("hookpass-4242", "brokerpass-4343", "hooker:")
CHANNELS = """
[[alerts.channels]]
kind = "webhook"
url = "https://hooker:hookpass-4242@hooks.example.net/T0/B0"
[[alerts.channels]]
kind = "mqtt"
url = "mqtts://store:brokerpass-4343@broker.example.net:8883"
topic = "storelens"
"""


def page_text(at: AppTest) -> str:
    parts = []
    for kind in ("markdown", "caption", "error", "warning", "info", "success", "text", "code"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]
    parts += [str(e.value) for e in at.get("text_input")]
    parts += [str(e.proto) for e in at.get("json")]
    return "\n".join(parts)


def test_channels_show_on_no_page_and_survive_a_setup_save(
    dashboard_env: Path, monkeypatch
) -> None:
    home = dashboard_env.parent / "home"
    config = home / "store.toml"
    config.write_text('[store]\nstore_id = "s1"\nname = "Store S1"\n' + CHANNELS)
    monkeypatch.setenv("STORELENS_CONFIG", str(config))
    for user, page in (
        (User("ada", Role.ADMIN), "screens/setup.py"),
        (User("mia", Role.STORE_MANAGER, store="s1"), "screens/live.py"),
    ):
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["storelens_user"] = user
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = page_text(at)
        assert shown, page
        for secret in SECRETS:
            assert secret not in shown, (page, secret)

    from storelens.dashboard.settings import load_store_config, save_store_config

    save_store_config(load_store_config(), config)  # what Setup's Save button does
    saved = tomllib.loads(config.read_text())
    assert [c["kind"] for c in saved["alerts"]["channels"]] == ["webhook", "mqtt"]


def test_a_bad_channel_in_safe_mode_names_the_field_not_the_password(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.setenv("STORELENS_DEMO", "1")
    monkeypatch.delenv("STORELENS_CONFIG", raising=False)
    monkeypatch.setenv("STORELENS_DB", str(tmp_path / "none.duckdb"))
    (tmp_path / "store.toml").write_text(
        '[[alerts.channels]]\nkind = "mqtt"\nurl = "https://hooker:hookpass-4242@h.example/x"\n'
    )
    at = AppTest.from_file(APP, default_timeout=60).run()
    errors = " ".join(e.value for e in at.error)
    assert "Safe mode" in errors and "alerts.channels[0]" in errors
    assert "must start with mqtt:// or mqtts://" in errors
    assert "hookpass-4242" not in errors
    assert not at.exception
