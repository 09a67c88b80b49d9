"""Who may see what, and which slice of time: the inputs every KPI takes.

:class:`KpiFilter` (stores, an inclusive range of *store-local* days, granularity hour /
day / week), :class:`Scope` (the stores the caller may see) and :func:`resolve_stores`,
which checks requested stores against the scope: a store id outside it raises
:class:`AccessDenied` (an empty request means "every store in scope"). ``MIN_GROUP`` is
the smallest group of tracks whose satisfaction is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from storelens.data.errors import AccessDenied, InvalidParams
from storelens.data.reader import Reader

Granularity = Literal["hour", "day", "week"]

MIN_GROUP = 5  # satisfaction is shown only where at least this many tracks contribute
VALID_GRANULARITY = ("hour", "day", "week")


@dataclass(frozen=True)
class KpiFilter:
    """Which stores, which store-local days (inclusive), at what granularity."""

    start: date
    end: date
    stores: tuple[str, ...] = ()
    granularity: Granularity = "day"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidParams(f"KpiFilter: end {self.end} is before start {self.start}")
        if self.granularity not in VALID_GRANULARITY:
            raise InvalidParams(
                f"KpiFilter: granularity must be one of {VALID_GRANULARITY}, got {self.granularity!r}"
            )
        object.__setattr__(self, "stores", tuple(self.stores))

    def with_(self, **changes: Any) -> KpiFilter:
        values = {
            "start": self.start,
            "end": self.end,
            "stores": self.stores,
            "granularity": self.granularity,
        }
        values.update(changes)
        return KpiFilter(**values)


@dataclass(frozen=True)
class Scope:
    """Stores a user may see; ``None`` = every store (executives, admins)."""

    stores: frozenset[str] | None = None

    @classmethod
    def everything(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, *store_ids: str) -> Scope:
        return cls(frozenset(store_ids))


def resolve_stores(reader: Reader, flt: KpiFilter, scope: Scope) -> list[str]:
    """Requested stores intersected with the scope; forged ids raise AccessDenied."""
    if flt.stores:
        if scope.stores is not None:
            forged = sorted(set(flt.stores) - scope.stores)
            if forged:
                raise AccessDenied(f"stores {forged} are outside this user's scope")
        return sorted(set(flt.stores))
    known = reader.query("stores", {})["store_id"].to_list()
    if scope.stores is None:
        return sorted(known)
    return sorted(set(known) & scope.stores)
