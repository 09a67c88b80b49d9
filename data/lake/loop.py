"""Store-and-forward: the pipeline's publisher thread, retrying with backoff while the
lake is down (:class:`PublishLoop`), and how ``STORELENS_LAKE`` starts it
(:func:`loop_from_env`)."""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
from collections.abc import Callable

import duckdb
from storelens.data import kpi
from storelens.data.errors import InvalidParams
from storelens.data.lake.access import Lake, LakeUnavailable, default_lake_url, open_lake
from storelens.data.lake.publish import PublishSummary, publish
from storelens.data.lake.tables import _check_min_group

log = logging.getLogger(__name__)


class PublishLoop:
    """Publishes every ``interval_s``; while the lake is down, retries with exponential
    backoff (``base_s`` doubling up to ``max_s``, with jitter) and keeps the store working.

    ``connect`` returns a DuckDB cursor to read from (the pipeline passes its writer's
    cursor, so no second process opens the file); the cursor is closed after each round.
    """

    def __init__(
        self,
        connect: Callable[[], duckdb.DuckDBPyConnection],
        lake: Lake,
        stores: list[str] | None = None,
        interval_s: float = 60.0,
        base_s: float = 2.0,
        max_s: float = 300.0,
        min_group: int = kpi.MIN_GROUP,
    ) -> None:
        self.connect, self.lake, self.stores = connect, lake, stores
        self.min_group = _check_min_group(min_group)
        self.interval_s, self.base_s, self.max_s = interval_s, base_s, max_s
        self.failures = 0
        self.rounds = 0
        # Stores whose objects the lake refused (a key scoped to another store): reported
        # once each, and they never hold back the stores this key may write.
        self.refused: dict[str, str] = {}
        self.last_error: str | None = None
        self.last_summary: PublishSummary | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="storelens-lake", daemon=True)

    def start(self) -> PublishLoop:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def next_delay(self) -> float:
        if self.failures == 0:
            return self.interval_s
        delay = min(self.max_s, self.base_s * 2 ** (self.failures - 1))
        return delay * random.uniform(0.8, 1.2)

    def run_once(self) -> PublishSummary | None:
        con = self.connect()
        try:
            summary = publish(
                con,
                self.lake,
                self.stores,
                stop=self._stop,
                skip_refused=self.refused,
                min_group=self.min_group,
            )
        except (LakeUnavailable, OSError) as exc:
            self.failures += 1
            self.last_error = str(exc)
            log.warning(
                "lake publish failed (%d in a row), retrying in ~%.0f s: %s",
                self.failures,
                self.next_delay(),
                exc,
            )
            return None
        finally:
            with contextlib.suppress(duckdb.Error):
                con.close()
        self.failures, self.last_error = 0, None
        self.last_summary = summary
        self.rounds += 1
        if summary.written:
            log.info("lake: published %d object(s) to %s", summary.written, self.lake.url)
        return summary

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # never take the store down because of the lake
                self.failures += 1
                log.exception("lake publish round failed")
            if self._stop.wait(self.next_delay()):
                return


def loop_from_env(
    connect: Callable[[], duckdb.DuckDBPyConnection], min_group: int = kpi.MIN_GROUP
) -> PublishLoop | None:
    """The pipeline's publisher when ``STORELENS_LAKE`` is set (``storelens up --lake``):
    every store in its database, every ``STORELENS_LAKE_INTERVAL_S`` seconds (default 60),
    with the store's minimum group (``privacy.min_group_size``)."""
    url = default_lake_url()
    if not url:
        return None
    raw = os.environ.get("STORELENS_LAKE_INTERVAL_S", "60")
    try:
        interval = float(raw)
    except ValueError:
        raise InvalidParams(
            f"STORELENS_LAKE_INTERVAL_S={raw!r} is not a number of seconds (e.g. 60)"
        ) from None
    if not 1 <= interval <= 86400:
        raise InvalidParams(f"STORELENS_LAKE_INTERVAL_S={raw}: must be between 1 and 86400")
    return PublishLoop(connect, open_lake(url), interval_s=interval, min_group=min_group).start()
