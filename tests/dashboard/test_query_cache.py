"""The pages' query cache (issue 12, item 3): a hit within the TTL for the same (scope,
query, parameters), a miss for another scope or period, expiry after the TTL on an
injected clock (no sleeps), writes that empty it, and pages that show the same content
whether their rows came from the cache or from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from storelens.dashboard.auth import Role, User, api_caller
from storelens.data.apiauth import Caller
from storelens.data.reader import (
    HISTORY_TTL_S,
    LIVE_TTL_S,
    ApiReader,
    CachedReader,
    QueryCache,
    as_caller,
    remembered,
    uncached,
)
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
MIA = Caller("mia", "store_manager", store="s1")
SAM = Caller("sam", "store_manager", store="s3")
WEEK = {"stores": ["s1"], "start": date(2026, 11, 1), "end": date(2026, 11, 7)}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingReader:
    """Answers every query with a one-row frame naming the call number."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any] | None]] = []
        self.acked: list[int] = []
        self.fail = False

    def query(self, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        if self.fail:
            raise RuntimeError("database gone")
        self.calls.append((name, params))
        return pl.DataFrame({"call": [len(self.calls)]})

    def ack_alert(self, alert_id: int, user: str) -> bool:
        self.acked.append(alert_id)
        return True

    def log_live_view(self, user_name: str, role: str, camera_id: str) -> None:
        pass


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def inner() -> CountingReader:
    return CountingReader()


@pytest.fixture
def reader(inner: CountingReader, clock: FakeClock) -> CachedReader:
    return CachedReader(inner, QueryCache(clock=clock), scope=MIA)


def test_same_query_scope_and_period_within_the_ttl_is_a_hit(
    reader: CachedReader, inner: CountingReader, clock: FakeClock
) -> None:
    first = reader.query("metrics", WEEK)
    clock.now += HISTORY_TTL_S - 0.1
    again = reader.query("metrics", dict(WEEK))  # an equal dict, not the same object
    assert len(inner.calls) == 1
    assert again.equals(first)
    assert reader.cache.hits == 1


def test_another_period_is_a_miss(reader: CachedReader, inner: CountingReader) -> None:
    reader.query("metrics", WEEK)
    reader.query("metrics", {**WEEK, "end": date(2026, 11, 8)})
    reader.query("metrics", {**WEEK, "granularity": "hour"})
    assert len(inner.calls) == 3


def test_another_query_is_a_miss(reader: CachedReader, inner: CountingReader) -> None:
    reader.query("metrics", WEEK)
    reader.query("zone_metrics", WEEK)
    assert [name for name, _ in inner.calls] == ["metrics", "zone_metrics"]


def test_another_scope_never_gets_the_rows_of_the_first(
    inner: CountingReader, clock: FakeClock
) -> None:
    cache = QueryCache(clock=clock)
    mine = CachedReader(inner, cache, scope=MIA)
    theirs = CachedReader(inner, cache, scope=SAM)
    rows_for_mia = mine.query("stores", {})
    rows_for_sam = theirs.query("stores", {})  # same query, same parameters
    assert len(inner.calls) == 2
    assert not rows_for_sam.equals(rows_for_mia)
    assert mine.query("stores", {}).equals(rows_for_mia)  # each scope keeps its own


def test_as_caller_keys_the_cache_by_the_signed_in_user(clock: FakeClock) -> None:
    """A page's reader is as_caller(shared reader, user): it shares the cache object but
    not the entries, and over the API it still signs requests as that user."""
    shared = CachedReader(ApiReader("http://127.0.0.1:9", secret=b"s" * 32), QueryCache(clock))
    manager = User("mia", Role.STORE_MANAGER, store="s1")
    signed = as_caller(shared, api_caller(manager))
    assert isinstance(signed, CachedReader)
    assert signed.cache is shared.cache
    assert signed.scope == api_caller(manager) != shared.scope
    api = uncached(signed)
    assert isinstance(api, ApiReader) and api.caller.name == "mia"
    assert uncached(api) is api


def test_history_rows_expire_after_the_ttl(
    reader: CachedReader, inner: CountingReader, clock: FakeClock
) -> None:
    reader.query("metrics", WEEK)
    clock.now += HISTORY_TTL_S
    reader.query("metrics", WEEK)
    assert len(inner.calls) == 2


def test_live_rows_expire_within_seconds(
    reader: CachedReader, inner: CountingReader, clock: FakeClock
) -> None:
    params = {"camera_id": "s1-entrance", "since": datetime(2026, 11, 30, 9, tzinfo=UTC)}
    reader.query("people_per_minute", params)
    clock.now += LIVE_TTL_S / 2
    reader.query("people_per_minute", params)
    assert len(inner.calls) == 1
    clock.now += LIVE_TTL_S / 2
    reader.query("people_per_minute", params)
    assert len(inner.calls) == 2
    assert LIVE_TTL_S <= 5.0  # "live numbers stay fresh within a few seconds"


def test_a_write_empties_the_cache(reader: CachedReader, inner: CountingReader) -> None:
    since = datetime(2026, 11, 30, tzinfo=UTC)
    reader.query("alerts", {"stores": ["s1"], "since": since})
    assert reader.ack_alert(7, "mia")
    reader.query("alerts", {"stores": ["s1"], "since": since})
    assert inner.acked == [7]
    assert len(inner.calls) == 2  # the acknowledged alert shows as such at once


def test_errors_are_not_cached(reader: CachedReader, inner: CountingReader) -> None:
    inner.fail = True
    with pytest.raises(RuntimeError):
        reader.query("stores", {})
    inner.fail = False
    assert reader.query("stores", {})["call"].to_list() == [1]


def test_invalid_parameters_fail_before_the_cache(reader: CachedReader) -> None:
    from storelens.data.errors import InvalidParams

    with pytest.raises(InvalidParams):
        reader.query("metrics", {**WEEK, "end": date(2026, 10, 1)})
    assert reader.cache.misses == 0


def test_a_caller_changing_its_frame_does_not_change_the_cache(reader: CachedReader) -> None:
    rows = reader.query("stores", {})
    rows.insert_column(1, pl.Series("extra", [1]))
    assert reader.query("stores", {}).columns == ["call"]


def test_the_cache_stays_bounded(inner: CountingReader, clock: FakeClock) -> None:
    reader = CachedReader(inner, QueryCache(clock=clock, max_entries=3), scope=MIA)
    for day in range(1, 6):
        reader.query("metrics", {**WEEK, "end": date(2026, 11, day + 7)})
    assert len(reader.cache._rows) == 3
    reader.query("metrics", {**WEEK, "end": date(2026, 11, 12)})  # the newest stayed
    assert len(inner.calls) == 5


def test_the_cache_stays_within_its_bytes(clock: FakeClock) -> None:
    frame = pl.DataFrame({"x": list(range(1000))})  # 8 kB
    cache = QueryCache(clock=clock, max_bytes=3 * frame.estimated_size())
    for key in range(5):
        cache.get_or_run(key, HISTORY_TTL_S, lambda: frame)
    assert sorted(cache._rows) == [2, 3, 4]
    huge = pl.DataFrame({"x": list(range(10_000))})
    assert cache.get_or_run("huge", HISTORY_TTL_S, lambda: huge).height == 10_000
    assert "huge" not in cache._rows  # too big to keep: answered, not cached


def test_a_remembered_kpi_is_keyed_by_scope_and_period(
    inner: CountingReader, clock: FakeClock
) -> None:
    cache = QueryCache(clock=clock)
    mine, theirs = CachedReader(inner, cache, scope=MIA), CachedReader(inner, cache, scope=SAM)
    computed: list[str] = []

    def kpi(reader: CachedReader, period: str) -> pl.DataFrame:
        def compute() -> pl.DataFrame:
            computed.append(f"{reader.scope.name} {period}")
            return pl.DataFrame({"n": [len(computed)]})

        return remembered(reader, "store_comparison", (period,), compute)

    first = kpi(mine, "week 44")
    assert kpi(mine, "week 44").equals(first)  # hit
    kpi(mine, "week 45")  # another period
    kpi(theirs, "week 44")  # another scope
    clock.now += HISTORY_TTL_S
    kpi(mine, "week 44")  # expired
    assert computed == ["mia week 44", "mia week 45", "sam week 44", "mia week 44"]


def test_remembered_keys_may_hold_dicts_and_sets(reader: CachedReader) -> None:
    """Staffing's key holds StaffingTargets (a frozen dataclass with a dict in it) and
    the Scope (a frozenset): equal values hit, whatever order they were built in."""
    from storelens.data.kpi import Scope, StaffingTargets

    computed: list[int] = []

    def staffing(targets: StaffingTargets, scope: Scope) -> pl.DataFrame:
        return remembered(
            reader, "staffing", (targets, scope), lambda: computed.append(1) or pl.DataFrame()
        )

    staffing(StaffingTargets(extra={"a": 1, "b": 2}), Scope.of("s1", "s2"))
    staffing(StaffingTargets(extra={"b": 2, "a": 1}), Scope.of("s2", "s1"))
    assert len(computed) == 1
    staffing(StaffingTargets(extra={"a": 2, "b": 2}), Scope.of("s1", "s2"))
    staffing(StaffingTargets(extra={"a": 1, "b": 2}), Scope.of("s1"))
    assert len(computed) == 3


def test_other_readers_compute_every_time(inner: CountingReader) -> None:
    runs = []
    for _ in range(2):
        remembered(inner, "store_comparison", (), lambda: runs.append(1) or pl.DataFrame())
    assert len(runs) == 2


# ----------------------------------------------------------------------- pages (AppTest)


def _open(user: User, page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["storelens_user"] = user
    at.run()
    return at.switch_page(f"screens/{page}.py").run()


def _content(at: AppTest) -> tuple:
    return (
        [m.value for m in at.metric],
        # JSON, not dicts: a missing figure is NaN in the frame, and NaN != NaN
        [d.value.to_json(orient="split") for d in at.dataframe],
        [m.value for m in at.markdown],
        [c.value for c in at.caption],
    )


@pytest.mark.parametrize("page", ["executive", "compare", "staffing"])
def test_a_page_from_the_cache_shows_what_it_showed_from_the_database(
    dashboard_env: Path, page: str
) -> None:
    from storelens.dashboard.services import clear_query_cache, get_reader

    admin = User("ada", Role.ADMIN)
    clear_query_cache()
    cold = _open(admin, page)
    misses = get_reader().cache.misses
    warm = _open(admin, page)  # a second session within the TTL
    assert not cold.exception and not warm.exception
    assert get_reader().cache.misses == misses  # every query answered from the cache
    assert _content(warm) == _content(cold)


def test_a_store_manager_never_sees_rows_cached_for_another_store(dashboard_env: Path) -> None:
    """s1 (10 visitors an hour in conftest's data) is cached first; s3's manager (3 an
    hour) then opens the same page and sees s3's numbers."""
    from storelens.dashboard.services import clear_query_cache

    clear_query_cache()
    s1 = _open(User("mia", Role.STORE_MANAGER, store="s1"), "staffing")
    s3 = _open(User("sam", Role.STORE_MANAGER, store="s3"), "staffing")
    s1_again = _open(User("mia", Role.STORE_MANAGER, store="s1"), "staffing")
    assert not s1.exception and not s3.exception
    assert _content(s3) != _content(s1)
    assert _content(s1_again) == _content(s1)
    hourly = s3.dataframe[0].value
    assert "s1" not in str(hourly.to_dict())
