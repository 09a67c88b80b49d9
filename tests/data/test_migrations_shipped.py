"""Shipped migrations never change (issue 13 item 7).

data/db.py applies each ``data/sql/NNN_*.sql`` once and records only its number in
``schema_version``: an edit to a shipped file never reaches databases that already ran it,
while new databases would get the edited schema, so the two would silently differ. That
is why the column lists that 002 and 003 share (the rollup metrics of hourly_zone,
daily_store and daily_zone) stay as they are; a change of schema is a new migration, and
new migrations can share a view instead of repeating columns.

The fingerprint ignores comments and white space, so a comment may still be fixed.
"""

from __future__ import annotations

import hashlib

from storelens.data.db import migrations

SHIPPED = {
    1: ("001_core.sql", "4df94a2097451d33"),
    2: ("002_rollups.sql", "d6bf5aa18e4ec7a5"),
    3: ("003_daily_rollups.sql", "f7aef8f950e36c7b"),
    4: ("004_expected_valence.sql", "a8e38781d770691a"),
    5: ("005_alert_delivery.sql", "f3d908db341aeccc"),
}


def fingerprint(sql: str) -> str:
    statements = " ".join(line.split("--", 1)[0] for line in sql.splitlines())
    return hashlib.sha256(" ".join(statements.split()).encode()).hexdigest()[:16]


def test_shipped_migrations_are_unchanged() -> None:
    found = {version: (name, fingerprint(sql)) for version, name, sql in migrations()}
    for version, expected in SHIPPED.items():
        assert found.get(version) == expected, (
            f"migration {version} changed: databases that already applied it keep the old "
            "schema; add a new migration instead"
        )
