"""Push delivery of alerts with a log in the database (issue 19 item 6): nothing lost while a
channel is down, nothing sent twice, also across a pipeline restart.

The pipeline process runs one :class:`DeliveryWorker` beside the writer. Every ``poll_s``:

1. **Enqueue.** Alerts of this store newer than a channel's ``since_alert_id`` (the newest
   alert when the channel was first configured: a new channel is not flooded with the
   history) without a row in ``alert_deliveries`` get one, ``pending``.
2. **Deliver.** Pending rows that are due are sent oldest first, one session per channel
   (one MQTT connection). Each outcome is written through the one writer right after the
   send: ``delivered`` (never sent again, also after a restart, since the log is in the
   DuckDB file), or the error and the next try after an exponential backoff with jitter
   (``alerts.retry_initial_s`` doubling up to ``alerts.retry_max_s``). When a channel fails,
   its remaining messages of the round wait for the next try, in order. An alert still
   undelivered ``alerts.deliver_within_s`` after it was raised is logged ``expired``.
3. **State.** MQTT channels get the store's retained state (online, open alerts, the last
   alert) whenever it changed, acknowledgements included; a clean stop sets it offline.

At-least-once at the edges: a send that reached the channel just before ``kill -9``, before
its outcome was written, goes out again after the restart; every message carries a stable
``id`` so receivers can drop that repeat. A clean stop (SIGTERM) finishes the message in
flight and records it.

The delivery log, the enqueue and the outcome SQL live here (DuckDB); the channels are in
:mod:`storelens.data.alert_channels` and the words staff read are rendered by a function the
composition root hands in (the dashboard's alert texts), so this room imports no UI.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from storelens.data.alert_channels import AlertChannelError, AlertMessage, open_session
from storelens.data.errors import DataError
from storelens.kernel.alert_channels import (
    AlertChannel,
    AlertChannelKind,
    channel_key,
    channel_label,
)
from storelens.kernel.config import AlertsConfig

log = logging.getLogger(__name__)

# (kind, detail, zone, zone_kind, ts, timezone) -> (title, detail, action, local time)
Render = Callable[[str, str, str | None, str | None, datetime, str | None], tuple[str, ...]]

BATCH = 100  # deliveries handled per round and channel (the rest wait for the next round)
OPEN_WINDOW = timedelta(days=1)  # "open alerts" in the state: unacknowledged, this recent

_REGISTER = """
    INSERT INTO alert_channels
    SELECT ?, ?, coalesce((SELECT max(alert_id) FROM alerts), 0), now()
    WHERE NOT EXISTS (SELECT 1 FROM alert_channels WHERE channel_key = ?)"""

_NEW = """
    SELECT a.alert_id, ch.channel_key
    FROM alert_channels ch JOIN alerts a ON a.alert_id > ch.since_alert_id
    WHERE list_contains($keys, ch.channel_key) AND a.store_id = $store
      AND a.alert_id > $seen
      AND NOT EXISTS (SELECT 1 FROM alert_deliveries d
                      WHERE d.alert_id = a.alert_id AND d.channel_key = ch.channel_key)
    ORDER BY a.alert_id"""

_DUE = """
    SELECT d.alert_id, d.attempts, a.ts, a.store_id, coalesce(s.name, a.store_id),
           s.timezone, a.camera_id, coalesce(c.name, a.camera_id), a.kind,
           coalesce(a.detail, ''), a.zone, a.zone_kind
    FROM alert_deliveries d JOIN alerts a USING (alert_id)
    LEFT JOIN cameras c ON c.camera_id = a.camera_id
    LEFT JOIN stores s ON s.store_id = a.store_id
    WHERE d.channel_key = $key AND d.status = 'pending' AND d.next_attempt_ts <= $now
    ORDER BY d.alert_id LIMIT $limit"""

_STATE = """
    SELECT count(*) FILTER (WHERE acknowledged_ts IS NULL AND ts >= $open_since),
           max(alert_id), count(*) FILTER (WHERE acknowledged_ts IS NOT NULL)
    FROM alerts WHERE store_id = $store"""


@dataclass
class DeliveryStats:
    """What the worker did (tests, logs and `storelens alerts test` read it)."""

    rounds: int = 0
    delivered: int = 0
    failed_attempts: int = 0
    expired: int = 0
    states: int = 0
    last_errors: dict[str, str] = field(default_factory=dict)


def backoff_s(attempts: int, config: AlertsConfig, rng: random.Random) -> float:
    """Seconds before try ``attempts + 1``: doubling from ``retry_initial_s``, capped at
    ``retry_max_s``, times a jitter in [0.5, 1] so many stores do not retry in lockstep."""
    base = min(config.retry_max_s, config.retry_initial_s * 2 ** min(max(attempts - 1, 0), 30))
    return base * (0.5 + 0.5 * rng.random())


def register_channels(con: duckdb.DuckDBPyConnection, channels: list[AlertChannel]) -> None:
    """Note each configured channel once (run through the writer): from now on it gets every
    new alert; one configured before keeps its start, so a restart skips nothing. The log
    keeps a row as long as its alert: rows of alerts the retention expired go here."""
    con.execute(
        """DELETE FROM alert_deliveries d
           WHERE NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_id = d.alert_id)"""
    )
    for channel in channels:
        key = channel_key(channel)
        con.execute(_REGISTER, [key, channel_label(channel), key])


def delivery_log(con: duckdb.DuckDBPyConnection, limit: int = 200) -> list[dict[str, Any]]:
    """The newest rows of the delivery log with their channel's label (no credentials)."""
    rows = con.execute(
        """SELECT d.alert_id, ch.label, d.status, d.attempts, d.last_error, d.delivered_ts
           FROM alert_deliveries d LEFT JOIN alert_channels ch USING (channel_key)
           ORDER BY d.alert_id DESC, ch.label LIMIT ?""",
        [limit],
    ).fetchall()
    names = ("alert_id", "channel", "status", "attempts", "last_error", "delivered_ts")
    return [dict(zip(names, row, strict=True)) for row in rows]


class DeliveryWorker:
    """Delivers the store's alerts to its channels (see the module's docstring).

    ``writer`` is the process's one :class:`~storelens.data.writer.Writer` (outcomes go
    through :meth:`execute_admin`, reads through its cursors); ``render`` turns an alert
    row into staff's words."""

    def __init__(
        self,
        writer: Any,
        store_id: str,
        config: AlertsConfig,
        render: Render,
        poll_s: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.writer, self.store_id, self.config = writer, store_id, config
        self.render, self.poll_s = render, poll_s
        self.channels = {channel_key(c): c for c in config.channels}
        self.stats = DeliveryStats()
        self._rng = rng or random.Random()
        self._seen = 0  # alerts up to this id have their delivery rows
        self._state_sent: dict[str, tuple[Any, ...]] = {}
        # Per channel: consecutive failed sessions and when a state-only round may try again
        # (messages keep their own next_attempt_ts in the log).
        self._failures: dict[str, int] = {}
        self._retry_at: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="alert-delivery", daemon=True)

    def register(self) -> None:
        """Note the channels in the log; every alert raised after this returns is delivered."""
        channels = list(self.channels.values())
        self.writer.execute_admin(lambda con: register_channels(con, channels))

    def start(self) -> DeliveryWorker:
        """Register the channels (synchronously), then deliver in the background."""
        if self.channels:
            self.register()
            labels = ", ".join(channel_label(c) for c in self.channels.values())
            log.info("alert delivery to %s", labels)
            self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the message in flight (its outcome is recorded), then tell each MQTT
        channel's retained state that the store's pipeline is offline (best effort: a
        broker that is down just keeps the last state)."""
        self._stop.set()
        if not self._thread.is_alive():
            return
        self._thread.join(timeout)
        for channel in self.channels.values():
            if channel.kind is not AlertChannelKind.MQTT:
                continue
            try:
                _, state = self._state()
                with open_session(channel, self.config.send_timeout_s) as session:
                    session.state(self.store_id, {**state, "online": False})
            except (AlertChannelError, DataError, duckdb.Error) as exc:
                log.info("alert delivery: offline state not published: %s", exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except (DataError, duckdb.Error) as exc:  # the writer closing, a full disk...
                log.warning("alert delivery round failed, retrying: %s", exc)
            self._stop.wait(self.poll_s)

    # ------------------------------------------------------------------ one round
    def run_once(self) -> DeliveryStats:
        self._enqueue()
        now = datetime.now(UTC)  # after the enqueue: what it just queued is due
        for key, channel in self.channels.items():
            if self._stop.is_set():
                break
            self._deliver(key, channel, now)
        self.stats.rounds += 1
        return self.stats

    def _read(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cur = self.writer.cursor()
        try:
            return cur.execute(sql, params).fetchall()
        finally:
            with contextlib.suppress(duckdb.Error):
                cur.close()

    def _enqueue(self) -> None:
        params = {"keys": list(self.channels), "store": self.store_id, "seen": self._seen}
        fresh = self._read(_NEW, params)
        if not fresh:
            return

        def insert(con: duckdb.DuckDBPyConnection) -> None:
            for alert_id, key in fresh:
                con.execute(
                    """INSERT INTO alert_deliveries VALUES (?, ?, 'pending', 0, now(), now(),
                       NULL, NULL) ON CONFLICT DO NOTHING""",
                    [alert_id, key],
                )

        self.writer.execute_admin(insert)
        self._seen = max(self._seen, max(alert_id for alert_id, _ in fresh))

    def _deliver(self, key: str, channel: AlertChannel, now: datetime) -> None:
        due = self._read(_DUE, {"key": key, "now": now, "limit": BATCH})
        messages: list[tuple[int, int, AlertMessage]] = []
        for row in due:
            alert_id, attempts, ts = row[0], row[1], row[2]
            if (now - ts).total_seconds() > self.config.deliver_within_s:
                self._record(alert_id, key, "expired", attempts, "not delivered in time")
                self.stats.expired += 1
                continue
            messages.append((alert_id, attempts, self._message(row)))
        state = self._state() if channel.kind is AlertChannelKind.MQTT else None
        if not messages and (
            state is None
            or self._state_sent.get(key) == state[0]
            or time.monotonic() < self._retry_at.get(key, 0.0)
        ):
            return
        try:
            with open_session(channel, self.config.send_timeout_s) as session:
                for index, (alert_id, attempts, message) in enumerate(messages):
                    if self._stop.is_set() and index:
                        return  # stopping: the rest stay pending for the next start
                    try:
                        session.send(message)
                    except AlertChannelError as exc:
                        self._failed(key, messages[index:], exc)
                        return
                    self._record(alert_id, key, "delivered", attempts + 1, None)
                    self.stats.delivered += 1
                if state is not None:
                    session.state(self.store_id, state[1])
                    self._state_sent[key] = state[0]
                    self.stats.states += 1
            self._failures.pop(key, None)
        except AlertChannelError as exc:
            self._failed(key, messages, exc)

    def _failed(
        self, key: str, pending: list[tuple[int, int, AlertMessage]], exc: AlertChannelError
    ) -> None:
        message = str(exc)
        self._failures[key] = failures = self._failures.get(key, 0) + 1
        self._retry_at[key] = time.monotonic() + backoff_s(failures, self.config, self._rng)
        if self.stats.last_errors.get(key) != message:
            log.warning("alert delivery: %s (retrying with backoff)", message)
        self.stats.last_errors[key] = message
        for alert_id, attempts, _ in pending:
            self._record(alert_id, key, "pending", attempts + 1, message)
            self.stats.failed_attempts += 1

    def _record(
        self, alert_id: int, key: str, status: str, attempts: int, error: str | None
    ) -> None:
        delay = backoff_s(attempts, self.config, self._rng) if status == "pending" else 0.0

        def update(con: duckdb.DuckDBPyConnection) -> None:
            con.execute(
                """UPDATE alert_deliveries
                   SET status = ?, attempts = ?, last_error = ?,
                       next_attempt_ts = now() + to_microseconds(?),
                       delivered_ts = CASE WHEN ? = 'delivered' THEN now() END
                   WHERE alert_id = ? AND channel_key = ?""",
                [status, attempts, error, int(delay * 1e6), status, alert_id, key],
            )

        self.writer.execute_admin(update)
        if status == "delivered":
            self.stats.last_errors.pop(key, None)

    def _message(self, row: tuple[Any, ...]) -> AlertMessage:
        (alert_id, _, ts, store_id, store, timezone, camera_id, camera, kind, detail, zone,
         zone_kind) = row  # fmt: skip
        title, text, action, local = self.render(kind, detail, zone, zone_kind, ts, timezone)
        return AlertMessage(
            id=f"{store_id}-{alert_id}",
            alert_id=int(alert_id),
            store_id=store_id,
            store=store,
            camera_id=camera_id or "",
            camera=camera or "",
            kind=kind,
            zone=zone,
            zone_kind=zone_kind,
            title=title,
            detail=text,
            action=action,
            ts=ts.astimezone(UTC).isoformat(),
            local_time=local,
        )

    def _state(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        open_since = datetime.now(UTC) - OPEN_WINDOW
        row = self._read(_STATE, {"store": self.store_id, "open_since": open_since})[0]
        open_alerts, last_id, acknowledged = row
        fingerprint = (open_alerts, last_id, acknowledged)
        state = {
            "store_id": self.store_id,
            "online": True,
            "open_alerts": int(open_alerts or 0),
            "last_alert_id": None if last_id is None else f"{self.store_id}-{last_id}",
            "updated": datetime.now(UTC).isoformat(),
        }
        return fingerprint, state
