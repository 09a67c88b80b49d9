"""Push alerts through real channels (issue 19 item 6): a real mosquitto broker, a real HTTP
receiver, the real writer on a DuckDB file and the delivery worker the pipeline runs.

Each alert arrives once per channel; while a channel is down its deliveries wait in the log
(with the error and a backoff) and go out when it is back; a restart of the worker on the
same file sends nothing twice and delivers what was raised while it was away. The pipeline
process itself is exercised end to end in test_pipeline_push.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from storelens.dashboard.alert_text import push_words
from storelens.data.alert_delivery import DeliveryWorker, delivery_log
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.sink import BATCH_SCHEMAS, AlertRow, to_arrow
from storelens.data.writer import Writer
from storelens.kernel.config import AlertsConfig, parse_config

from tests.alerts.receivers import Broker, Subscriber, Webhook, wait_for

SECRET_MQTT, SECRET_HOOK = "mqtt-pw-3141", "hook-token-2718"


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Broker, Subscriber, Webhook]]:
    broker = Broker(tmp_path).start()
    hook = Webhook().start()
    sub = Subscriber(broker.port)
    try:
        yield broker, sub, hook
    finally:
        sub.close()
        hook.stop()
        broker.stop()


def alerts_config(broker: Broker, hook: Webhook) -> AlertsConfig:
    # Exactly the TOML shape, credentials in both URLs.
    return parse_config(
        {
            "alerts": {
                "retry_initial_s": 0.2,
                "retry_max_s": 1.0,
                "channels": [
                    {
                        "kind": "webhook",
                        "url": f"http://ops:{SECRET_HOOK}@127.0.0.1:{hook.port}/hook",
                    },
                    {
                        "kind": "mqtt",
                        "url": f"mqtt://storelens:{SECRET_MQTT}@127.0.0.1:{broker.port}",
                        "topic": "storelens",
                    },
                ],
            }
        }
    ).alerts


def open_store(db: Path) -> Writer:
    writer = Writer(db)

    def catalog(con) -> None:
        upsert_store(con, "s1", "Kingsway", "North", "Europe/Berlin")
        upsert_camera(con, "desk-cam", "s1", "Desk camera", "floor")

    writer.execute_admin(catalog)
    return writer


def raise_alert(writer: Writer, n: int) -> None:
    row = AlertRow(
        time.time(),
        "desk-cam",
        "frustrated",
        "Desk camera · service desk: frustrated shopper for 12 s",
        "service desk",
        "floor",
    )
    writer.append("alerts", to_arrow([row], BATCH_SCHEMAS["alerts"]), f"test-alert-{n}")
    writer.flush()


def rounds_after(worker: DeliveryWorker, extra: int) -> None:
    """Let the worker run ``extra`` more full rounds (so a repeat would have been sent)."""
    target = worker.stats.rounds + extra
    wait_for(lambda: worker.stats.rounds >= target, f"{extra} more delivery rounds")


def log_rows(writer: Writer) -> list[dict]:
    cur = writer.cursor()
    try:
        return delivery_log(cur)
    finally:
        cur.close()


def test_an_alert_arrives_once_survives_an_outage_and_a_restart(
    tmp_path: Path, receivers: tuple[Broker, Subscriber, Webhook]
) -> None:
    broker, sub, hook = receivers
    config = alerts_config(broker, hook)
    db = tmp_path / "store.duckdb"
    writer = open_store(db)
    raise_alert(writer, 0)  # raised before any channel was configured: history, not pushed
    worker = DeliveryWorker(writer, "s1", config, push_words, poll_s=0.1).start()
    try:
        raise_alert(writer, 1)
        wait_for(lambda: sub.events() and hook.posts, "the first alert on both channels")
        rounds_after(worker, 3)
        [(topic, event)] = sub.events()
        assert topic == "storelens/s1/desk-cam/frustrated"
        assert event["title"] == "Frustrated shopper at Service desk"
        assert event["id"] == f"s1-{event['alert_id']}" and event["camera"] == "Desk camera"
        [post] = hook.posts
        assert post["text"].startswith("Frustrated shopper at Service desk (Kingsway, ")
        assert "Go to Service desk and offer help." in post["text"]
        assert hook.auth == [f"ops:{SECRET_HOOK}"]  # the URL's credentials, as basic auth
        # The retained store state follows: both alerts open (the history one too).
        [state] = wait_for(
            lambda: [s for s in sub.states() if s["open_alerts"] == 2], "the store state"
        )[-1:]
        assert state["online"] is True and state["last_alert_id"] == event["id"]
        late = Subscriber(broker.port, name="late")  # e.g. a wall display switched on later
        try:
            [(topic, retained)] = wait_for(late.retained, "the retained state for a newcomer")
        finally:
            late.close()
        assert topic == "storelens/s1/state" and retained["open_alerts"] == 2

        # Outage: the broker and the receiver are down while the next alert is raised.
        broker.stop()
        hook.stop()
        raise_alert(writer, 2)

        def failing() -> bool:
            rows = [r for r in log_rows(writer) if r["status"] == "pending"]
            return len(rows) == 2 and all(r["attempts"] >= 2 for r in rows)

        wait_for(failing, "two failed tries per channel, logged")
        errors = [r["last_error"] for r in log_rows(writer) if r["status"] == "pending"]
        assert all("Connection refused" in e for e in errors), errors
        assert not any(SECRET_MQTT in e or SECRET_HOOK in e or "ops:" in e for e in errors)
        assert len(sub.events()) == 1 and len(hook.posts) == 1

        broker.start()  # back on the same port: the backlog goes out
        hook.start()
        wait_for(
            lambda: len(sub.events()) == 2 and len(hook.posts) == 2, "the alert after the outage"
        )
        rounds_after(worker, 3)
    finally:
        worker.stop()
        writer.close()
    assert len(sub.events()) == 2 and len(hook.posts) == 2
    # A clean stop leaves the store's retained state saying the pipeline is offline.
    wait_for(lambda: sub.states() and sub.states()[-1]["online"] is False, "the offline state")

    # Restart on the same file: an alert raised while no worker ran is delivered, none twice.
    writer = open_store(db)
    raise_alert(writer, 3)
    worker = DeliveryWorker(writer, "s1", config, push_words, poll_s=0.1).start()
    try:
        wait_for(lambda: len(sub.events()) == 3 and len(hook.posts) == 3, "the alert after restart")
        rounds_after(worker, 5)
        rows = log_rows(writer)
    finally:
        worker.stop()
        writer.close()
    ids = [e["alert_id"] for _, e in sub.events()]
    assert len(ids) == len(set(ids)) == 3
    assert sorted(p["alert"]["alert_id"] for p in hook.posts) == sorted(ids)
    assert {r["status"] for r in rows} == {"delivered"} and len(rows) == 6
    assert not any(SECRET_MQTT in str(r) or SECRET_HOOK in str(r) for r in rows)


def test_an_alert_older_than_its_delivery_window_expires_instead_of_paging_late(
    tmp_path: Path, receivers: tuple[Broker, Subscriber, Webhook]
) -> None:
    broker, sub, hook = receivers
    config = alerts_config(broker, hook).model_copy(update={"deliver_within_s": 60.0})
    writer = open_store(tmp_path / "store.duckdb")
    worker = DeliveryWorker(writer, "s1", config, push_words)  # driven round by round
    try:
        worker.register()
        row = AlertRow(
            time.time() - 3600, "desk-cam", "queue_wait", "Till: 5:00 min", "till", "queue"
        )
        writer.append("alerts", to_arrow([row], BATCH_SCHEMAS["alerts"]), "late")
        writer.flush()
        worker.run_once()
        assert {r["status"] for r in log_rows(writer)} == {"expired"}
        assert worker.stats.expired == 2 and hook.posts == [] and sub.events() == []
        # The log lives as long as its alert: once retention expired the alert, the next
        # start drops its delivery rows.
        writer.execute_admin(lambda con: con.execute("DELETE FROM alerts"))
        worker.register()
        assert log_rows(writer) == []
    finally:
        writer.close()
