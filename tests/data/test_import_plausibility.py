"""Issue 19 item 4: a €99,999,999 receipt parses, but it is implausible against the store's
own history. Such rows are flagged in the report and written only when forced (CLI
``--force``; the page's confirm click passes the same flag); without it nothing changes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from storelens.data.errors import ImportRejected
from storelens.data.imports import import_file

from tests.data.test_data_imports import table_counts

STORELENS = shutil.which("storelens") or str(Path(sys.executable).with_name("storelens"))


def _sales(path: Path, rows: list[tuple[str, float]]) -> Path:
    path.write_text(
        "ts,store_id,amount\n" + "".join(f"{ts},g1,{amount:.2f}\n" for ts, amount in rows)
    )
    return path


@pytest.fixture
def with_history(golden_db: Path, tmp_path: Path) -> Path:
    """g1 with 60 ordinary receipts (€12–€41) in its history."""
    rows = [(f"2026-02-{1 + i // 6:02d}T{10 + i % 6}:00:00", 12.0 + i % 30) for i in range(60)]
    import_file(golden_db, "sales", _sales(tmp_path / "history.csv", rows))
    return golden_db


def test_a_huge_receipt_is_flagged_and_nothing_is_written(with_history: Path, tmp_path: Path):
    before = table_counts(with_history)
    batch = _sales(
        tmp_path / "monday.csv",
        [
            ("2026-03-09T10:00:00", 23.5),
            ("2026-03-09T10:05:00", 99_999_999.0),
            ("2026-03-09T10:10:00", 180.0),  # about 4 x the usual: plausible
        ],
    )
    with pytest.raises(ImportRejected) as info:
        import_file(with_history, "sales", batch)
    report = info.value.report
    assert report.needs_confirmation and not report.accepted and report.errors_total == 0
    assert [f.line for f in report.flagged] == [3]  # the header is line 1; €180 is plausible
    assert "€99,999,999.00" in report.flagged[0].reason
    assert "99th percentile" in report.flagged[0].reason
    assert "--force" in str(info.value)
    assert table_counts(with_history) == before  # not even the two ordinary rows

    forced = import_file(with_history, "sales", batch, force=True)
    assert forced.accepted and forced.forced and forced.flagged_total == 1
    assert table_counts(with_history)["transactions"] == before["transactions"] + 3


def test_without_history_a_fixed_ceiling_applies(golden_db: Path, tmp_path: Path):
    # The golden store has a handful of receipts only: no percentile to trust.
    batch = _sales(tmp_path / "b.csv", [("2026-03-09T10:00:00", 250_000.0)])
    with pytest.raises(ImportRejected) as info:
        import_file(golden_db, "sales", batch)
    assert "no history to compare with" in info.value.report.flagged[0].reason
    ordinary = _sales(tmp_path / "c.csv", [("2026-03-09T10:00:00", 2_500.0)])
    assert import_file(golden_db, "sales", ordinary).rows_added == 1


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([STORELENS, *args], capture_output=True, text=True, timeout=300)


def test_cli_needs_force_for_implausible_rows(with_history: Path, tmp_path: Path):
    before = table_counts(with_history)
    batch = _sales(tmp_path / "tuesday.csv", [("2026-03-10T11:00:00", 99_999_999.0)])
    refused = _cli("import", "sales", str(batch), "--db", str(with_history))
    assert refused.returncode == 1, refused.stderr
    assert "implausible" in refused.stderr and "--force" in refused.stderr
    assert "line 2" in refused.stderr
    assert table_counts(with_history) == before

    as_json = _cli("import", "sales", str(batch), "--db", str(with_history), "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["needs_confirmation"] is True

    done = _cli("import", "sales", str(batch), "--db", str(with_history), "--force")
    assert done.returncode == 0, done.stderr
    assert "--force" in done.stdout and "1 sales row(s) added" in done.stdout
    assert table_counts(with_history)["transactions"] == before["transactions"] + 1
