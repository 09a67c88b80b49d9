"""Issue 19 item 2: freshness respects opening hours. A store that closed at 20:00 and
published its day is "closed, complete" at 05:40, not "10 h late"; a running hour is
"partial"; late means an ended opening hour is missing; every time carries its zone."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from storelens.dashboard.auth import Role, User
from storelens.data.freshness import store_freshness

from tests.chain.test_chain_pages import YESTERDAY, open_page, recent_lake  # noqa: F401

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))
BERLIN = {"timezone": "Europe/Berlin", "open_hour": 9, "close_hour": 20}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.mark.parametrize(
    ("newest", "now", "state", "words"),
    [
        # Published through 19:00-20:00 yesterday; 05:40 the next morning: nothing is due.
        ("2026-12-06T19:00:00", "2026-12-07T05:40:00+01:00", "closed, complete",
         "published up to Sun 6 Dec 20:00 CET"),
        # The demo publishes its running hour: it is not "published up to 06:00, on time".
        ("2026-12-07T05:00:00", "2026-12-07T05:40:00+01:00", "closed, complete",
         "published up to Mon 7 Dec 05:00 CET"),
        # Open at 11:20 with 10:00-11:00 published: the running hour is partial.
        ("2026-12-07T10:00:00", "2026-12-07T11:20:00+01:00", "open, partial",
         "the hour 11:00–12:00 CET is running"),
        # Open at 11:20 with only 09:00-10:00 published: one ended opening hour missing.
        ("2026-12-07T09:00:00", "2026-12-07T11:20:00+01:00", "late",
         "late: 1 opening hour missing"),
        # Closed since yesterday 20:00 but yesterday's last two hours never arrived.
        ("2026-12-06T17:00:00", "2026-12-07T05:40:00+01:00", "late",
         "late: 2 opening hours missing"),
        # Summer: the zone's name follows the date.
        ("2026-07-06T19:00:00", "2026-07-07T05:40:00+02:00", "closed, complete", "CEST"),
        (None, "2026-12-07T05:40:00+01:00", "nothing published", "open 09:00–20:00 CET"),
    ],
)  # fmt: skip
def test_freshness_by_opening_hours(newest, now, state, words):
    fresh = store_freshness(newest, BERLIN, at(now))
    assert fresh.state == state
    assert words in fresh.label, fresh.label
    assert "CET" in fresh.label or "CEST" in fresh.label  # every time carries its zone


@pytest.fixture
def chain_before_opening(recent_lake: Path, tmp_path: Path, monkeypatch) -> Path:  # noqa: F811
    """Chain mode at 04:40 UTC today (05:40 in Berlin): every store closed, yesterday
    published in full (the lake holds days up to yesterday)."""
    monkeypatch.setenv("STORELENS_LAKE", str(recent_lake))
    monkeypatch.setenv("STORELENS_DB", str(tmp_path / "no-store-database-here.duckdb"))
    monkeypatch.setenv("STORELENS_HOME", str(tmp_path))
    monkeypatch.delenv("STORELENS_READ_API", raising=False)
    today = YESTERDAY.toordinal() + 1
    monkeypatch.setenv("STORELENS_NOW", f"{datetime.fromordinal(today):%Y-%m-%d}T04:40:00+00:00")
    return recent_lake


def test_compare_reads_closed_stores_as_closed(chain_before_opening: Path):
    at_page = open_page(User("eve", Role.EXECUTIVE), "screens/compare.py")
    fresh = at_page.dataframe[0].value
    labels = dict(zip(fresh["store_id"], fresh["freshness"], strict=True))
    assert sorted(labels) == ["demo", "s01", "s02", "s03", "s04"]
    for store, label in labels.items():
        assert label.startswith("closed, complete: published up to "), (store, label)
        assert label.endswith("GMT)") or label.endswith("CET)"), label  # London / Berlin
    assert "5 stores from the lake · 0 late" in " ".join(c.value for c in at_page.caption)


def test_lake_status_cli_says_closed(chain_before_opening: Path):
    import os

    out = subprocess.run(
        [STORELENS, "lake", "status", "--lake", str(chain_before_opening), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
    )
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["state"] for r in rows} == {"closed, complete"}
