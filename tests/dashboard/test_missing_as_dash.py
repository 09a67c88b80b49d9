"""Missing is "—", never "None" (issue 19 item 10): every table a user sees draws its null
cells as "—" and every metric says "—" rather than "None"/"nan", on every page of every
role, in a store database where some figures are missing (s3 has no alert to time, the
impact table has stores without slow hours, today's sales are not imported yet).

What the browser draws for a null cell is the table's ``placeholder`` (Streamlit draws
"None" without one), so a table with a null cell must carry "—" as its placeholder; a text
cell or a metric reading "None"/"nan" is caught by its text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from storelens.dashboard.auth import Role, User
from storelens.dashboard.formatting import MISSING, column_config
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MANAGER = User("mia", Role.STORE_MANAGER, store="s1")
EXECUTIVE = User("eve", Role.EXECUTIVE)
ADMIN = User("ada", Role.ADMIN)
# The words Streamlit or an f-string writes for a missing value.
NULL_WORDS = re.compile(r"\b(None|nan|NaN|NaT|null)\b")


def open_page(user: User, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["storelens_user"] = user
    at.run()
    at.switch_page(f"screens/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def nulls_shown_as_none(at: AppTest) -> list[str]:
    """What a user of this page would read as "None"/"nan": tables with a null cell and no
    "—" placeholder, text cells and metrics that spell a missing value."""
    found = []
    for table in at.dataframe:
        frame = table.value
        if frame.isna().to_numpy().any() and table.proto.placeholder != MISSING:
            found.append(f"table {list(frame.columns)[:3]}: null cells without '—'")
        for column in frame.columns:
            if frame[column].dtype == object:
                words = [v for v in frame[column] if isinstance(v, str) and NULL_WORDS.search(v)]
                if words:
                    found.append(f"table {list(frame.columns)[:3]} column {column}: {words[:3]}")
    for metric in at.metric:
        if NULL_WORDS.search(f"{metric.value} {metric.delta or ''}"):
            found.append(f"metric {metric.label}: {metric.value} {metric.delta}")
    return found


PAGES = [
    (MANAGER, "store"),
    (MANAGER, "staffing"),
    (MANAGER, "live"),
    (EXECUTIVE, "executive"),
    (EXECUTIVE, "compare"),
    (EXECUTIVE, "drill"),
    (ADMIN, "privacy"),
    (ADMIN, "setup"),
]


@pytest.mark.parametrize(("user", "page"), PAGES, ids=[p for _, p in PAGES])
def test_no_page_shows_none_for_a_missing_value(dashboard_env: Path, user: User, page: str) -> None:
    at = open_page(user, page)
    assert nulls_shown_as_none(at) == [], page


def test_the_pages_do_have_missing_values_to_show(dashboard_env: Path) -> None:
    # Not vacuous: Compare's leaderboard has a store without a response time, drawn "—".
    at = open_page(EXECUTIVE, "compare")
    board = next(t for t in at.dataframe if "median_response_min" in t.value.columns)
    assert board.value["median_response_min"].isna().any()
    assert board.proto.placeholder == MISSING


def test_numbers_without_a_format_get_thousands_separators() -> None:
    import polars as pl

    frame = pl.DataFrame({"store": ["a"], "visitors": [12345], "share": [0.5]})
    config = column_config(frame, {"share": {"label": "Share", "help": "of all"}})
    assert "store" not in config  # text stays text
    assert config["visitors"]["type_config"]["format"] == "localized"
    assert config["share"]["label"] == "Share"  # the page's label and help are kept
    assert config["share"]["type_config"]["format"] == "localized"
