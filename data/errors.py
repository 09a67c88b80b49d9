"""Domain errors of the data room.

Library errors (duckdb, pyarrow, polars, OS) are translated into these at the
boundary, with a message that names the file / table / row and says how to fix it.
:class:`DataError` derives from the kernel's :class:`StoreLensError`, so one
``except StoreLensError`` at a boundary catches the data room's errors too.
"""

from __future__ import annotations

from storelens.kernel.errors import StoreLensError


class DataError(StoreLensError):
    """Base class of every error the data room raises on purpose."""


class DatabaseLocked(DataError):
    """Another process holds the DuckDB file read-write."""


class DatabaseUnavailable(DataError):
    """The database file is missing, unreadable or of an unknown format."""


class SchemaMismatch(DataError):
    """A row batch does not have the columns/types its table expects."""


class WriterClosed(DataError):
    """The writer was closed or its thread died; nothing more can be appended."""


class WriterOverloaded(DataError):
    """The writer queue stayed full for longer than the append timeout."""


class UnknownQuery(DataError):
    """A reader was asked for a query name that is not registered."""


class InvalidParams(DataError):
    """A named query or KPI got parameters it cannot use."""


class AccessDenied(DataError):
    """A caller asked for stores outside its scope."""


class Unauthenticated(DataError):
    """A read API request without a valid credential (see data/apiauth.py)."""


class ReadApiError(DataError):
    """The writer's read API did not answer, or answered with an error."""


class ImportRejected(DataError):
    """An import file had bad rows; nothing was written. ``report`` lists them."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report
