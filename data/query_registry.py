"""The registry of named read queries: their parameter models and the decorator that adds one.

A named query is a pydantic parameter model (bounded, extra fields forbidden) and a function
``(cursor, params) -> polars.DataFrame``. The queries themselves live in
:mod:`storelens.data.queries` and in modules of their own (:mod:`storelens.data.health_sql`);
they register here, and :mod:`storelens.data.queries` validates and runs them. Kept apart so
that a query module does not import the module that imports it (an import cycle).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import duckdb
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator

Granularity = Literal["hour", "day", "week"]


MAX_RANGE_DAYS = 3 * 366
# Stores in one query: a chain's HQ compares every store it has (issue 21: 5,000 from the
# lake, benchmarks/bench_hq.py); the bound still refuses a runaway list.
MAX_STORES = 10_000


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoreRange(_Params):
    """Stores and an inclusive range of store-local days."""

    stores: list[str] = Field(..., min_length=1, max_length=MAX_STORES)
    start: date
    end: date
    granularity: Granularity = "day"

    @field_validator("end")
    @classmethod
    def _range(cls, end: date, info: Any) -> date:
        start = info.data.get("start")
        if start is not None:
            if end < start:
                raise ValueError(f"end {end} is before start {start}")
            if (end - start).days > MAX_RANGE_DAYS:
                raise ValueError(f"range {start}..{end} is longer than {MAX_RANGE_DAYS} days")
        return end


class CameraSince(_Params):
    camera_id: str = Field(..., min_length=1, max_length=200)
    since: datetime

    @field_validator("since")
    @classmethod
    def _aware(cls, since: datetime) -> datetime:
        return since if since.tzinfo else since.replace(tzinfo=UTC)


class CameraList(_Params):
    camera_ids: list[str] | None = Field(None, max_length=1000)
    window_s: int = Field(60, ge=1, le=3600, description="'people in the last N seconds'")


class StoreList(_Params):
    stores: list[str] | None = Field(None, max_length=MAX_STORES)


class AlertQuery(_Params):
    stores: list[str] = Field(..., min_length=1, max_length=1000)
    since: datetime
    only_open: bool = False
    limit: int = Field(200, ge=1, le=10_000)


class NoParams(_Params):
    pass


@dataclass(frozen=True)
class NamedQuery:
    name: str
    params: type[_Params]
    run: Callable[[duckdb.DuckDBPyConnection, Any], pl.DataFrame]
    doc: str


REGISTRY: dict[str, NamedQuery] = {}


def register(name: str, params: type[_Params], doc: str) -> Callable[..., Any]:
    def deco(fn: Callable[[duckdb.DuckDBPyConnection, Any], pl.DataFrame]) -> Any:
        REGISTRY[name] = NamedQuery(name, params, fn, doc)
        return fn

    return deco
