"""Fixtures of chain mode: a small seeded chain (5 stores, 2 regions, 8 days)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from storelens.data.demo import seed_demo

from tests.chain.chainlib import DAYS, END, STORES


@pytest.fixture(scope="session")
def chain_db_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chain") / "chain.duckdb"
    seed_demo(path, days=DAYS, stores=STORES, seed=5, end=END)
    return path


@pytest.fixture
def chain_db(chain_db_master: Path, tmp_path: Path) -> Path:
    """A private copy (tests may change it)."""
    copy = tmp_path / "store.duckdb"
    shutil.copy(chain_db_master, copy)
    return copy


@pytest.fixture(scope="session")
def published_lake(chain_db_master: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded chain published once to a local lake (for tests that only read it)."""
    from storelens.data.lake import open_lake, publish_db

    root = tmp_path_factory.mktemp("published") / "lake"
    publish_db(chain_db_master, open_lake(root))
    return root
