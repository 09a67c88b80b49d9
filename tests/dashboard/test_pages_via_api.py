"""The pages read through a running read API (as under ``storelens up``), signed as the
user who is signed in (issue 10, item 4): they render, the audit row names that user, a
forged ``?store=`` is refused by the server too, and the pages cannot read with another
identity than the user's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from storelens.dashboard.auth import Role, User
from storelens.data.readapi import serve
from storelens.data.writer import Writer
from storelens.kernel import discovery
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
PAGES = ["executive", "live", "store", "compare", "staffing", "privacy"]
MANAGER = User("mia", Role.STORE_MANAGER, store="s1")
EXECUTIVE = User("eve", Role.EXECUTIVE)


@pytest.fixture
def api_env(dashboard_env: Path) -> Iterator[dict]:
    writer = Writer(dashboard_env)
    server = serve(writer, port=0, publish=True)
    discovery.publish(  # what the pipeline adds to the read API's record
        dashboard_env,
        {
            "store_id": "s1",
            "tiles": "http://127.0.0.1:9",
            "cameras": [{"camera_id": "s1-entrance", "name": "Front door"}],
        },
    )
    try:
        yield {"writer": writer, "server": server}
    finally:
        server.stop()
        writer.close()


def open_app(user: User, page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    return at.switch_page(f"screens/{page}.py").run()


@pytest.mark.parametrize("user", [MANAGER, EXECUTIVE], ids=["manager", "executive"])
def test_pages_render_through_the_signed_api(api_env: dict, user: User) -> None:
    for page in PAGES:
        at = open_app(user, page)
        assert not at.exception, (page, [e.value for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])


def test_live_view_audit_names_the_signed_in_user(api_env: dict) -> None:
    at = open_app(MANAGER, "live")
    assert not at.exception
    api_env["writer"].flush(30)
    cur = api_env["writer"].cursor()
    rows = cur.execute("SELECT user_name, role, camera_id FROM live_view_log").fetchall()
    cur.close()
    assert rows == [("mia", "store_manager", "s1-entrance")]


def test_forged_store_is_refused(api_env: dict) -> None:
    at = open_app(MANAGER, "store", {"store": "s3"})
    assert "Access denied" in " ".join(e.value for e in at.error)
    assert not at.metric  # no numbers of s3


def test_page_reader_is_signed_for_the_user() -> None:
    """The reader a page gets over the API carries the user's identity, not the system's."""
    from storelens.dashboard.auth import api_caller
    from storelens.data.reader import ApiReader, LocalReader, as_caller

    api = ApiReader("http://127.0.0.1:9", secret=b"s" * 32)
    signed = as_caller(api, api_caller(MANAGER))
    assert isinstance(signed, ApiReader)
    assert (signed.caller.name, signed.caller.role, signed.caller.store) == (
        "mia",
        "store_manager",
        "s1",
    )
    assert api.caller.role == "system"  # the shared reader itself is untouched
    local = LocalReader("unused.duckdb")
    assert as_caller(local, api_caller(MANAGER)) is local
