"""Issue 10, item 9: the smaller holes, each closed and tested.

- a forged ``?store=`` is refused on its page and does not follow the user to the next;
- Live says what is going on when a pipeline runs, but not for this store;
- safe mode does not send the admin to a Setup page that cannot load;
- the page icon is served locally (an offline store fetches nothing from outside);
- an imported file cannot be imported again by a later click (after a refused upload).
"""

from __future__ import annotations

from pathlib import Path

from storelens.dashboard.auth import Role, User
from storelens.kernel import discovery
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MANAGER = User("mia", Role.STORE_MANAGER, store="s1")
EXECUTIVE = User("eve", Role.EXECUTIVE)


def run_page(user: User, page: str, params: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error)


def test_forged_store_does_not_stick_to_other_pages(dashboard_env: Path) -> None:
    at = run_page(MANAGER, "store", {"store": "s3"})
    assert "Access denied" in errors(at)
    for key in list(at.query_params):  # what a click in the sidebar does to the URL
        del at.query_params[key]
    for page in ("staffing", "live", "store"):
        at.switch_page(f"screens/{page}.py").run()
        assert not at.exception
        assert "Access denied" not in errors(at), page


def _services(db: Path, store_id: str) -> None:
    discovery.publish(
        db,
        {
            "store_id": store_id,
            "tiles": "http://127.0.0.1:9",
            "cameras": [{"camera_id": f"{store_id}-entrance", "name": "Door"}],
        },
    )


def test_live_says_what_runs_instead_of_start_storelens_up(dashboard_env: Path) -> None:
    at = run_page(EXECUTIVE, "live", {"store": "s2"})
    assert "no pipeline is running on this machine" in " ".join(i.value for i in at.info)

    _services(dashboard_env, "s1")  # a pipeline runs, for another store
    info = " ".join(i.value for i in run_page(EXECUTIVE, "live", {"store": "s2"}).info)
    assert "the pipeline running here serves store **Store S1**" in info  # names, not ids
    assert "storelens up" not in info


def test_safe_mode_does_not_point_to_setup(dashboard_env: Path, monkeypatch) -> None:
    monkeypatch.setenv("STORELENS_CONFIG_ERROR", "store.toml: cameras[0].source: required")
    at = run_page(User("ada", Role.ADMIN), "store", {"store": "s1"})
    safe = [e.value for e in at.error if "Safe mode" in e.value]
    assert safe and "Setup" not in safe[0] and "restart `storelens up`" in safe[0]


def test_page_icon_is_a_local_file() -> None:
    """A material icon name makes the browser fetch the favicon from a font CDN; the
    browser test test_nothing_is_fetched_from_outside checks the whole app."""
    source = Path(APP).read_text()
    assert 'page_icon=":material' not in source
    assert (Path(APP).parent / "assets" / "icon.png").read_bytes()[:4] == b"\x89PNG"


def test_an_imported_file_cannot_be_imported_again_by_accident(dashboard_env: Path) -> None:
    """The report: a 60 MB file was refused by the browser, the widget still held the
    previous file, and Import imported that. Now the uploader is fresh after each import
    and the button names the file it will import."""
    import duckdb

    at = run_page(User("ada", Role.ADMIN), "setup")
    sales = b"ts,store_id,amount\n2026-03-02T10:00:00Z,s1,12.5\n"
    at.file_uploader(key="imp_file_0").upload("march.csv", sales, "text/csv").run()
    assert at.button(key="imp_go").label.startswith("Import march.csv (")
    at.button(key="imp_go").click().run()
    assert "1 rows added" in " ".join(s.value for s in at.success)
    at.run()  # the next interaction, e.g. the refused upload
    assert [u.key for u in at.file_uploader] == ["imp_file_1"]  # empty, a new widget
    assert not [b for b in at.button if b.key == "imp_go"]  # nothing to import
    con = duckdb.connect(str(dashboard_env), read_only=True)
    try:
        n = con.execute("SELECT count(*) FROM transactions WHERE amount = 12.5").fetchall()
    finally:
        con.close()
    assert n == [(1,)]
