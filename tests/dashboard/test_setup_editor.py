"""Setup, as AppTest sees it (issue 19, item 8): "(new camera)" starts empty, a zone made
of clicked points is checked and added, a setting out of bounds is refused naming the
bound, and a refused import leaves an empty uploader behind."""

from __future__ import annotations

import json
from pathlib import Path

from storelens.dashboard.auth import Role, User
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
ADMIN = User("ada", Role.ADMIN)


def setup_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = ADMIN
    at.run()
    at.switch_page("screens/setup.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_new_camera_starts_empty_and_a_camera_loads_its_own_values(dashboard_env: Path) -> None:
    at = setup_page()
    assert at.text_input(key="cam_id").value == "s1-entrance"
    at.text_input(key="cam_name").input("Changed but not saved").run()
    at.selectbox(key="cam_choice").select("(new camera)").run()
    assert at.text_input(key="cam_id").value == ""
    assert at.text_input(key="cam_name").value == ""
    assert json.loads(at.text_area(key="cam_lines").value) == []
    assert json.loads(at.text_area(key="cam_zones").value) == []
    assert not at.text_input(key="cam_id").disabled


def test_clicked_points_become_a_zone_checked_by_the_config_model(dashboard_env: Path) -> None:
    at = setup_page()
    at.selectbox(key="cam_choice").select("(new camera)").run()
    # Two clicks are not a zone: refused with the reason, nothing added.
    at.session_state["cam_draft"] = [[10, 10], [200, 10]]
    at.text_input(key="cam_shape_name").input("Service desk").run()
    at.button(key="cam_add_shape").click().run()
    assert "at least 3 points" in errors(at)
    assert json.loads(at.text_area(key="cam_zones").value) == []
    # Points on one line have no area: the model's own words.
    at.session_state["cam_draft"] = [[10, 10], [100, 10], [200, 10]]
    at.run()
    at.button(key="cam_add_shape").click().run()
    assert "no area" in errors(at)
    at.session_state["cam_draft"] = [[10, 10], [200, 10], [200, 150], [10, 150]]
    at.run()
    at.selectbox(key="cam_zone_kind").select("checkout").run()
    at.button(key="cam_add_shape").click().run()
    zones = json.loads(at.text_area(key="cam_zones").value)
    assert zones[0]["name"] == "Service desk" and zones[0]["kind"] == "checkout"
    assert zones[0]["polygon"] == [[10, 10], [200, 10], [200, 150], [10, 150]]
    assert at.session_state["cam_draft"] == []
    at.text_input(key="cam_id").input("s1-desk").run()
    at.text_input(key="cam_source").input("rtsp://10.0.0.9/live").run()
    at.button(key="cam_save").click().run()
    saved = (Path(dashboard_env).parent / "home" / "store.toml").read_text()
    assert 'camera_id = "s1-desk"' in saved and "Service desk" in saved


def test_out_of_bounds_setting_is_refused_with_the_bound(dashboard_env: Path) -> None:
    at = setup_page()
    home = Path(dashboard_env).parent / "home"
    group = next(n for n in at.number_input if n.label == "Minimum group for satisfaction")
    group.set_value(100000)
    next(b for b in at.get("form_submit_button") if "privacy" in b.proto.label).click().run()
    said = errors(at)
    assert "Minimum group for satisfaction must be a whole number between 2 and 1,000" in said
    assert "got 100,000" in said
    assert not (home / "store.toml").exists(), "nothing may be saved"


def test_a_refused_import_leaves_an_empty_uploader(dashboard_env: Path) -> None:
    at = setup_page()
    bad = b"ts,store_id,amount\n2026-03-02T11:05:00Z,s1,-3\n"
    at.file_uploader(key="imp_file_0").upload("bad.csv", bad, "text/csv").run()
    at.button(key="imp_go").click().run()
    assert "Rejected, nothing changed" in errors(at)
    # The same run that says "rejected" shows a fresh uploader, with no file in it.
    keys = [u.key for u in at.get("file_uploader")]
    assert keys == ["imp_file_1"], keys
    assert not [b for b in at.button if b.key == "imp_go"], "no Import button without a file"
