"""The data commands of the CLI, through typer's CliRunner on an app built with register()."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
import typer
from storelens.app.cli_data import register
from typer.testing import CliRunner

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


runner = CliRunner()


def test_kpi_json_prints_the_headline(app: typer.Typer, golden_db: Path):
    result = runner.invoke(
        app,
        [
            "kpi",
            "--db",
            str(golden_db),
            "--store",
            "g1",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-02",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.stdout)
    for key in (
        "visitors",
        "transactions",
        "conversion",
        "sales_per_visitor",
        "satisfaction_index",
        "faces_read",
        "star",
        "labour_cost_per_visitor",
    ):
        assert key in got
    assert got["visitors"] == 15
    assert got["transactions"] == 5
    assert got["star"] == pytest.approx(2.5)


def test_kpi_unknown_store_exits_non_zero(app: typer.Typer, golden_db: Path):
    result = runner.invoke(
        app,
        [
            "kpi",
            "--db",
            str(golden_db),
            "--store",
            "zz",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-02",
        ],
    )
    assert result.exit_code == 2
    assert "zz" in result.output


def test_kpi_uses_STORELENS_DB(app: typer.Typer, golden_db: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("STORELENS_DB", str(golden_db))
    result = runner.invoke(
        app, ["kpi", "--store", "g2", "--from", "2026-03-02", "--to", "2026-03-02", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["visitors"] == 3


def test_import_rejected_file_exits_1_with_row_report(app: typer.Typer, golden_db: Path):
    result = runner.invoke(
        app, ["import", "sales", str(GOLDEN / "bad_sales.csv"), "--db", str(golden_db)]
    )
    assert result.exit_code == 1
    for line in (3, 4, 5, 6):
        assert f"line {line}:" in result.output
    assert "nothing was imported" in result.output


def test_import_good_files_then_again(app: typer.Typer, golden_db: Path, tmp_path: Path):
    shifts = tmp_path / "shifts.csv"
    shifts.write_text(
        "store_id,staff_role,start_ts,end_ts,hourly_cost\ng2,cashier,2026-03-04T08:00:00,2026-03-04T12:00:00,20\n"
    )
    first = runner.invoke(app, ["import", "shifts", str(shifts), "--db", str(golden_db), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rows_added"] == 1
    again = runner.invoke(app, ["import", "shifts", str(shifts), "--db", str(golden_db)])
    assert again.exit_code == 0
    assert "already imported" in again.output


def test_demo_seed_command(app: typer.Typer, tmp_path: Path):
    db = tmp_path / "demo.duckdb"
    result = runner.invoke(app, ["demo", "seed", "--db", str(db), "--days", "3", "--stores", "2"])
    assert result.exit_code == 0, result.output
    assert "seeded 2 stores" in result.output
    con = duckdb.connect(str(db), read_only=True)
    stores = [r[0] for r in con.execute("SELECT store_id FROM stores ORDER BY 1").fetchall()]
    con.close()
    assert stores == ["demo", "s01"]
    again = runner.invoke(app, ["demo", "seed", "--db", str(db), "--days", "3", "--stores", "2"])
    assert again.exit_code == 0
    assert "already has demo history" in again.output
