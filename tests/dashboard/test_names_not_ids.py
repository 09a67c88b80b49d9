"""Names, not ids (issue 19 item 10): the Store page's picker and caption, the sidebar's user
box and Drill-down's heading and breadcrumb say "Store S1" (the catalog's name), never the
id "s1" alone. The dashboard database names store s1 "Store S1" (tests/dashboard/conftest)."""

from __future__ import annotations

from pathlib import Path

from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MANAGER = User("mia", Role.STORE_MANAGER, store="s1")


def open_page(user: User, page: str, params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["storelens_user"] = user
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_store_page_picker_and_caption_say_the_name(dashboard_env: Path) -> None:
    at = open_page(MANAGER, "store")
    picker = at.sidebar.selectbox(key="f_store")
    assert picker.options == ["Store S1"]
    assert picker.value == "s1"  # the URL and the queries keep the id
    assert any(c.value.startswith("**Store S1**") for c in at.caption)


def test_user_box_says_the_store_name(dashboard_env: Path) -> None:
    at = open_page(MANAGER, "store")
    box = next(c.value for c in at.sidebar.caption if c.value.startswith("Signed in as"))
    assert box.endswith("· Store S1"), box


def test_drill_down_heading_and_breadcrumb_say_the_name(dashboard_env: Path) -> None:
    at = open_page(User("eve", Role.EXECUTIVE), "drill", {"store": "s2"})
    assert at.button(key="crumb_store").label == "Store S2"
    assert at.subheader[0].value.startswith("Store S2: ")
