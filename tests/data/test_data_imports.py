"""POS and shift imports: per-row reports, all or nothing, re-import adds nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest
from storelens.data.errors import ImportRejected, InvalidParams
from storelens.data.imports import import_file

GOLDEN = Path(__file__).parent / "golden"


def table_counts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("transactions", "shifts", "hourly_sales", "hourly_staff", "import_ledger")
        }
    finally:
        con.close()


def test_bad_sales_file_reports_every_bad_row_and_changes_nothing(golden_db: Path):
    before = table_counts(golden_db)
    with pytest.raises(ImportRejected) as info:
        import_file(golden_db, "sales", GOLDEN / "bad_sales.csv")
    report = info.value.report
    assert not report.accepted
    assert [(e.line, e.reason.split()[0]) for e in report.errors] == [
        (3, "store_id"),  # unknown store 'nowhere'
        (4, "amount"),  # amount 'abc' is not a number
        (5, "timestamp"),  # ts 'not-a-time' is not ISO 8601
        (6, "amount"),  # amount must be > 0
    ]
    assert "nowhere" in report.errors[0].reason
    assert "line 3" in str(info.value)
    assert table_counts(golden_db) == before  # the two good rows were not imported either


def test_bad_shifts_file_changes_nothing(golden_db: Path):
    before = table_counts(golden_db)
    with pytest.raises(ImportRejected) as info:
        import_file(golden_db, "shifts", GOLDEN / "bad_shifts.csv")
    lines = {e.line: e.reason for e in info.value.report.errors}
    assert set(lines) == {3, 4, 5}
    assert "not after start_ts" in lines[3]
    assert "staff_role" in lines[4]
    assert "longer than 24 h" in lines[5]
    assert table_counts(golden_db) == before


def test_reimporting_the_same_file_adds_nothing(golden_db: Path):
    before = table_counts(golden_db)
    report = import_file(golden_db, "sales", GOLDEN / "sales.csv")  # already in the golden db
    assert report.already_imported
    assert report.rows_added == 0
    assert table_counts(golden_db) == before


def test_overlapping_file_adds_only_new_rows(golden_db: Path, tmp_path: Path):
    lines = (GOLDEN / "sales.csv").read_text().splitlines()
    overlap = tmp_path / "overlap.csv"
    overlap.write_text("\n".join([*lines[:3], "2026-03-02T15:00:00,g1,3,12.50"]) + "\n")
    report = import_file(golden_db, "sales", overlap)
    assert (report.rows_added, report.rows_already_present) == (1, 2)
    assert table_counts(golden_db)["transactions"] == 8


def test_parquet_import_with_ids_and_local_times(golden_db: Path, tmp_path: Path):
    path = tmp_path / "pos.parquet"
    pl.DataFrame(
        {
            "TS": ["2026-03-03T10:00:00", "2026-03-03T10:30:00+01:00"],
            "Store_ID": ["g1", "g1"],
            "amount": [11.0, 12.0],
            "transaction_id": ["t-1", "t-2"],
        }
    ).write_parquet(path)
    report = import_file(golden_db, "sales", path)
    assert report.rows_added == 2
    con = duckdb.connect(str(golden_db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "SELECT transaction_id, strftime(ts, '%H:%M') FROM transactions "
        "WHERE transaction_id LIKE 't-%' ORDER BY 1"
    ).fetchall()
    con.close()
    # 10:00 without an offset is Berlin wall-clock time (UTC+1 in March) -> 09:00 UTC.
    assert rows == [("t-1", "09:00"), ("t-2", "09:30")]


def test_wrong_columns_are_one_clear_error(golden_db: Path, tmp_path: Path):
    path = tmp_path / "wrong.csv"
    path.write_text("when,shop,total\n2026-03-02T10:00:00,g1,5\n")
    with pytest.raises(ImportRejected) as info:
        import_file(golden_db, "sales", path)
    (error,) = info.value.report.errors
    assert error.line == 1
    assert "missing" in error.reason and "amount" in error.reason


def test_unsupported_file_type(golden_db: Path, tmp_path: Path):
    path = tmp_path / "sales.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(InvalidParams, match=r"\.csv or \.parquet"):
        import_file(golden_db, "sales", path)


def test_shift_import_feeds_staff_rollup(golden_db: Path, tmp_path: Path):
    path = tmp_path / "more_shifts.csv"
    path.write_text(
        "store_id,staff_role,start_ts,end_ts,hourly_cost\n"
        "g2,cashier,2026-03-03T08:30:00Z,2026-03-03T10:00:00Z,30\n"
    )
    assert import_file(golden_db, "shifts", path).rows_added == 1
    con = duckdb.connect(str(golden_db), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        "SELECT hour(hour), staff_hours, labour_cost FROM hourly_staff "
        "WHERE store_id = 'g2' AND hour >= '2026-03-03' ORDER BY 1"
    ).fetchall()
    con.close()
    assert rows == [(8, 0.5, 15.0), (9, 1.0, 30.0)]  # half of 08h, all of 09h


@pytest.mark.parametrize("header", ["ts,store_id,amount, AMOUNT", "TS,ts,store_id,amount"])
def test_a_repeated_column_is_rejected_with_a_report(golden_db: Path, tmp_path: Path, header: str):
    path = tmp_path / "twice.csv"
    path.write_text(f"{header}\n")
    before = table_counts(golden_db)
    with pytest.raises(ImportRejected, match="more than once") as info:
        import_file(golden_db, "sales", path)
    assert info.value.report.errors[0].line == 1
    assert table_counts(golden_db) == before
