"""Imports of POS transactions and staff shifts from CSV or Parquet.

Rules:
- every bad row is reported with its line number (CSV: the file's line, header = line 1;
  Parquet: row number, first row = 1) and the reason;
- a file with any bad row changes nothing (all or nothing: one transaction);
- a valid row far above the store's own history (a €99,999,999 receipt) is *flagged*
  (:mod:`data.plausibility`); a file with flagged rows is written only with ``force``
  (``storelens import --force``, the confirm button on Setup → Imports), else nothing is;
- re-importing the same file adds nothing: the file's SHA-256 is recorded in
  ``import_ledger``, and every row has an id (``transaction_id`` / ``shift_id`` from the
  file, else derived from the row's content), so overlapping files add only new rows.

Columns (names are case-insensitive; extra columns are reported as an error so a wrong
file is not half-understood):

- sales: ``ts``, ``store_id``, ``amount`` (> 0); optional ``register`` (default "1"),
  ``transaction_id``.
- shifts: ``store_id``, ``staff_role``, ``start_ts``, ``end_ts``, ``hourly_cost`` (>= 0);
  optional ``staff_id``, ``shift_id``.

Timestamps are ISO 8601. With an offset (``2026-03-02T09:15:00+01:00`` or ``...Z``) they
are taken as written; without one they are the store's local wall-clock time (POS exports
usually are) and converted with the store's time zone.

Writes go through the one writer: pass a :class:`~data.writer.Writer`, or a database path
(a writer is opened for the import and closed again; if the pipeline holds the file, use
the read API's ``/import`` route, as ``storelens import`` does).
"""

from __future__ import annotations

import hashlib
import io
import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow as pa
from storelens.data.errors import ImportRejected, InvalidParams
from storelens.data.plausibility import implausible_rows
from storelens.data.schemas import BATCH_SCHEMAS
from storelens.data.writer import Writer, insert_rows

ImportKind = Literal["sales", "shifts"]

_COLUMNS: dict[str, tuple[set[str], set[str]]] = {
    "sales": ({"ts", "store_id", "amount"}, {"register", "transaction_id"}),
    "shifts": (
        {"store_id", "staff_role", "start_ts", "end_ts", "hourly_cost"},
        {"staff_id", "shift_id"},
    ),
}
MAX_ERRORS_LISTED = 1000
MAX_SHIFT_HOURS = 24


@dataclass
class RowError:
    line: int
    reason: str


@dataclass
class ImportReport:
    kind: str
    file: str
    file_sha256: str
    rows_total: int = 0
    rows_added: int = 0
    rows_already_present: int = 0
    already_imported: bool = False
    errors: list[RowError] = field(default_factory=list)
    errors_total: int = 0
    # Valid rows implausible against the store's history; written only when forced.
    flagged: list[RowError] = field(default_factory=list)
    flagged_total: int = 0
    forced: bool = False

    @property
    def needs_confirmation(self) -> bool:
        return self.errors_total == 0 and self.flagged_total > 0 and not self.forced

    @property
    def accepted(self) -> bool:
        return self.errors_total == 0 and not self.needs_confirmation

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["accepted"] = self.accepted
        out["needs_confirmation"] = self.needs_confirmation
        return out

    def summary(self) -> str:
        if self.needs_confirmation:
            lines = [
                f"{self.file}: {self.flagged_total} implausible row(s) against the store's own "
                "history; nothing was imported. Check these rows: if they are right, import "
                "again with --force (CLI) or confirm on Setup → Imports; else fix the file:"
            ]
            lines += [f"  line {e.line}: {e.reason}" for e in self.flagged]
            if self.flagged_total > len(self.flagged):
                lines.append(f"  ... and {self.flagged_total - len(self.flagged)} more")
            return "\n".join(lines)
        if not self.accepted:
            lines = [
                f"{self.file}: REJECTED, {self.errors_total} bad row(s) of {self.rows_total}; "
                "nothing was imported. Fix these rows and import the file again:"
            ]
            lines += [f"  line {e.line}: {e.reason}" for e in self.errors]
            if self.errors_total > len(self.errors):
                lines.append(f"  ... and {self.errors_total - len(self.errors)} more")
            return "\n".join(lines)
        if self.already_imported:
            return f"{self.file}: already imported earlier; nothing added."
        return (
            f"{self.file}: {self.rows_added} {self.kind} row(s) added, "
            f"{self.rows_already_present} already present, of {self.rows_total}."
        )


class _Errors:
    def __init__(self) -> None:
        self.items: list[RowError] = []
        self.total = 0

    def add(self, line: int, reason: str) -> None:
        self.total += 1
        if len(self.items) < MAX_ERRORS_LISTED:
            self.items.append(RowError(line, reason))


def _read_frame(name: str, content: bytes) -> tuple[pl.DataFrame, int]:
    """All columns as strings, lower-cased names; the line number of the first data row."""
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(io.BytesIO(content))
            frame = frame.with_columns(
                pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z")
                if isinstance(frame.schema[c], pl.Datetime) and frame.schema[c].time_zone
                else pl.col(c).cast(pl.String)
                for c in frame.columns
            )
            first_line = 1
        elif suffix in (".csv", ".txt"):
            frame = pl.read_csv(io.BytesIO(content), infer_schema=False)
            first_line = 2
        else:
            raise InvalidParams(f"{name}: unsupported file type {suffix!r}; use .csv or .parquet")
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, InvalidParams):
            raise
        raise ImportRejected(f"{name}: cannot read the file: {exc}") from exc
    names = [c.strip().lower() for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ImportRejected(
            f"{name}: the header names {repeated} more than once (names are compared "
            "trimmed and case-insensitively); keep one column of each"
        )
    return frame.rename(dict(zip(frame.columns, names, strict=True))), first_line


def _parse_ts(text: str | None, tz: ZoneInfo | None) -> datetime:
    if text is None or not text.strip():
        raise ValueError("empty timestamp")
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"timestamp {text!r} is not ISO 8601 (e.g. 2026-03-02T09:15:00 or "
            "2026-03-02T09:15:00+01:00)"
        ) from None
    if value.tzinfo is None:
        if tz is None:
            raise ValueError("timestamp without offset and the store is unknown")
        value = value.replace(tzinfo=tz)
    return value.astimezone(UTC)


def _parse_amount(text: str | None, what: str, allow_zero: bool) -> float:
    if text is None or not text.strip():
        raise ValueError(f"{what} is empty")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {text!r}")
    return value


def _row_id(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def validate(
    kind: ImportKind, name: str, content: bytes, store_zones: dict[str, str]
) -> tuple[pa.Table | None, ImportReport]:
    """Parse and check every row; the Arrow batch (None on any error) and the report."""
    if kind not in _COLUMNS:
        raise InvalidParams(f"import kind must be 'sales' or 'shifts', got {kind!r}")
    report = ImportReport(kind=kind, file=name, file_sha256=hashlib.sha256(content).hexdigest())
    errs = _Errors()
    try:
        frame, first_line = _read_frame(name, content)
    except ImportRejected as exc:  # unreadable file or header: one error, with a report
        errs.add(1, str(exc))
        report.errors, report.errors_total = errs.items, errs.total
        raise ImportRejected(report.summary(), report) from exc
    report.rows_total = frame.height
    required, optional = _COLUMNS[kind]
    missing = sorted(required - set(frame.columns))
    unknown = sorted(set(frame.columns) - required - optional)
    if missing or unknown:
        errs.add(
            1,
            f"columns: missing {missing}, unexpected {unknown}; expected {sorted(required)} "
            f"plus optional {sorted(optional)}",
        )
        report.errors, report.errors_total = errs.items, errs.total
        return None, report
    zones = {sid: ZoneInfo(tz) for sid, tz in store_zones.items()}
    now = datetime.now(UTC)
    seen_ids: dict[str, int] = {}
    content_seen: Counter[tuple[object, ...]] = Counter()
    out: dict[str, list[Any]] = {n: [] for n in BATCH_SCHEMAS[_table(kind)].names}
    for offset, row in enumerate(frame.iter_rows(named=True)):
        line = first_line + offset
        store = (row.get("store_id") or "").strip()
        tz = zones.get(store)
        try:
            if not store:
                raise ValueError("store_id is empty")
            if tz is None:
                raise ValueError(f"store_id {store!r} is not a known store")
            if kind == "sales":
                ts = _parse_ts(row["ts"], tz)
                if ts > now + timedelta(days=1):
                    raise ValueError(f"ts {row['ts']!r} is in the future")
                amount = _parse_amount(row["amount"], "amount", allow_zero=False)
                register = (row.get("register") or "1").strip() or "1"
                given = (row.get("transaction_id") or "").strip()
                key: tuple[object, ...] = (store, register, ts.isoformat(), amount)
                content_seen[key] += 1
                row_id = given or _row_id(*key, content_seen[key])
                values = [row_id, ts, store, register, amount]
            else:
                start = _parse_ts(row["start_ts"], tz)
                end = _parse_ts(row["end_ts"], tz)
                if end <= start:
                    raise ValueError(f"end_ts {row['end_ts']!r} is not after start_ts")
                if end - start > timedelta(hours=MAX_SHIFT_HOURS):
                    raise ValueError(f"shift is longer than {MAX_SHIFT_HOURS} h")
                role = (row.get("staff_role") or "").strip()
                if not role:
                    raise ValueError("staff_role is empty")
                cost = _parse_amount(row["hourly_cost"], "hourly_cost", allow_zero=True)
                staff = (row.get("staff_id") or "").strip()
                given = (row.get("shift_id") or "").strip()
                key = (store, role, staff, start.isoformat(), end.isoformat())
                content_seen[key] += 1
                row_id = given or _row_id(*key, content_seen[key])
                values = [row_id, store, role, start, end, cost]
            if row_id in seen_ids:
                raise ValueError(f"id {row_id!r} repeats line {seen_ids[row_id]}")
            seen_ids[row_id] = line
        except (ValueError, TypeError) as exc:
            errs.add(line, str(exc))
            continue
        for col, value in zip(out, values, strict=True):
            out[col].append(value)
    report.errors, report.errors_total = errs.items, errs.total
    if not report.accepted:
        return None, report
    return pa.table(out, schema=BATCH_SCHEMAS[_table(kind)]), report


def _table(kind: str) -> str:
    return "transactions" if kind == "sales" else "shifts"


def _first_line(name: str) -> int:
    """The line number of a file's first data row (CSV: after the header)."""
    return 1 if Path(name).suffix.lower() == ".parquet" else 2


def _apply(
    con: duckdb.DuckDBPyConnection,
    kind: ImportKind,
    name: str,
    content: bytes,
    force: bool = False,
) -> ImportReport:
    """Validate and write in the caller's transaction (run on the writer thread)."""
    store_zones = dict(con.execute("SELECT store_id, timezone FROM stores").fetchall())
    table, report = validate(kind, name, content, store_zones)
    if table is None:
        raise ImportRejected(report.summary(), report)
    seen = con.execute(
        "SELECT 1 FROM import_ledger WHERE file_sha256 = ? AND kind = ?",
        [report.file_sha256, kind],
    ).fetchall()
    if seen:
        report.already_imported = True
        report.rows_already_present = report.rows_total
        return report
    flags = implausible_rows(con, kind, table)
    if flags:
        first = _first_line(name)
        report.flagged = [RowError(first + f.index, f.reason) for f in flags[:MAX_ERRORS_LISTED]]
        report.flagged_total = len(flags)
        report.forced = force
        if not force:  # nothing written: the caller confirms and imports again
            raise ImportRejected(report.summary(), report)
    added = insert_rows(con, _table(kind), table) if table.num_rows else 0
    report.rows_added = added
    report.rows_already_present = table.num_rows - added
    con.execute(
        "INSERT INTO import_ledger VALUES (?, ?, ?, ?, now())",
        [report.file_sha256, kind, name, table.num_rows],
    )
    return report


def import_content(
    target: Writer | str | Path,
    kind: ImportKind,
    name: str,
    content: bytes,
    force: bool = False,
) -> ImportReport:
    """Import file bytes; raises :class:`ImportRejected` (with ``.report``) on any bad row,
    and on implausible rows unless ``force`` (then ``report.needs_confirmation``)."""

    def apply(con: duckdb.DuckDBPyConnection) -> ImportReport:
        return _apply(con, kind, name, content, force)

    if isinstance(target, Writer):
        return target.execute_admin(apply, timeout=600)
    with Writer(target) as writer:
        report = writer.execute_admin(apply, timeout=600)
        writer.flush()
    return report


def import_file(
    target: Writer | str | Path, kind: ImportKind, path: str | Path, force: bool = False
) -> ImportReport:
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InvalidParams(f"cannot read import file {path}: {exc}") from exc
    return import_content(target, kind, path.name, content, force)


def import_sales(target: Writer | str | Path, path: str | Path) -> ImportReport:
    return import_file(target, "sales", path)


def import_shifts(target: Writer | str | Path, path: str | Path) -> ImportReport:
    return import_file(target, "shifts", path)
