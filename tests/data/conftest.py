"""Fixtures of the data room: a tiny golden database built from checked-in SQL/CSV.

The golden files (tests/data/golden/) are small enough to compute every KPI by hand;
test_kpi.py writes the hand computation next to each expected value.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from storelens.data.imports import import_file
from storelens.data.reader import LocalReader
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.writer import Writer

GOLDEN = Path(__file__).parent / "golden"


def read_golden_csv(table: str, name: str | None = None) -> pa.Table:
    schema = BATCH_SCHEMAS[table]
    return pacsv.read_csv(
        GOLDEN / (name or f"{table}.csv"),
        convert_options=pacsv.ConvertOptions(
            column_types=schema, strings_can_be_null=True, include_columns=schema.names
        ),
    ).select(schema.names)


def build_golden(path: Path) -> Path:
    """Create the golden database at ``path`` through the real writer and importers."""
    with Writer(path) as writer:
        catalog_sql = (GOLDEN / "catalog.sql").read_text()
        writer.execute_admin(lambda con: con.execute(catalog_sql))
        for table in ("events", "tracks", "queue_samples", "alerts"):
            writer.append(table, read_golden_csv(table), f"golden:{table}")
        import_file(writer, "sales", GOLDEN / "sales.csv")
        import_file(writer, "shifts", GOLDEN / "shifts.csv")
        writer.flush()
    return path


@pytest.fixture(scope="session")
def golden_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_golden(tmp_path_factory.mktemp("golden") / "golden.duckdb")


@pytest.fixture
def golden_db(golden_db_master: Path, tmp_path: Path) -> Path:
    """A private copy of the golden database (tests may write to it)."""
    copy = tmp_path / "golden.duckdb"
    shutil.copy(golden_db_master, copy)
    return copy


@pytest.fixture(scope="session")
def golden_reader(golden_db_master: Path) -> LocalReader:
    """Read-only access to the shared golden database."""
    return LocalReader(golden_db_master)
