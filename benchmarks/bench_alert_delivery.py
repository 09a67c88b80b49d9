"""Push-alert delivery (issue 19 item 6). Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/bench_alert_delivery.py [--burst 200] [--singles 20]

A real mosquitto broker on a free port, a local HTTP receiver, the real writer on a fresh
DuckDB file and the pipeline's DeliveryWorker at its default poll (1 s):

- singles: one alert at a time; latency from the writer's commit to arrival at the broker
  and at the webhook (median / max) — mostly the poll interval;
- burst: ``--burst`` alerts committed at once (a storm); seconds until every one arrived on
  both channels, i.e. delivered and its outcome written through the writer (one admin
  transaction per outcome, so a storm is bounded by the writer's commit rate).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storelens.dashboard.alert_text import push_words
from storelens.data.alert_delivery import DeliveryWorker
from storelens.data.catalog import upsert_camera, upsert_store
from storelens.data.sink import BATCH_SCHEMAS, AlertRow, to_arrow
from storelens.data.writer import Writer
from storelens.kernel.config import parse_config

from tests.alerts.receivers import Broker, Subscriber, Webhook, wait_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--singles", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-alerts-"))
    broker, hook = Broker(root).start(), Webhook().start()
    sub = Subscriber(broker.port)
    config = parse_config(
        {
            "alerts": {
                "channels": [
                    {"kind": "webhook", "url": f"http://127.0.0.1:{hook.port}/hook"},
                    {"kind": "mqtt", "url": f"mqtt://127.0.0.1:{broker.port}"},
                ]
            }
        }
    ).alerts
    writer = Writer(root / "bench.duckdb")
    writer.execute_admin(lambda con: upsert_store(con, "b1", "Bench", "North", "UTC"))
    writer.execute_admin(lambda con: upsert_camera(con, "cam", "b1", "Till", "checkout"))
    worker = DeliveryWorker(writer, "b1", config, push_words).start()
    sent = 0

    def raise_alerts(n: int) -> None:
        nonlocal sent
        rows = [
            AlertRow(time.time(), "cam", "queue_wait", "Till · till: 4:00 min", "till", "queue")
            for _ in range(n)
        ]
        writer.append("alerts", to_arrow(rows, BATCH_SCHEMAS["alerts"]), f"bench-{sent}")
        writer.flush()
        sent += n

    def arrived() -> bool:
        return len(sub.events()) >= sent and len(hook.posts) >= sent

    try:
        mqtt_ms, hook_ms = [], []
        for _ in range(args.singles):
            raise_alerts(1)
            start = time.perf_counter()
            mqtt_at = hook_at = None
            while mqtt_at is None or hook_at is None:
                now = time.perf_counter()
                if mqtt_at is None and len(sub.events()) >= sent:
                    mqtt_at = now
                if hook_at is None and len(hook.posts) >= sent:
                    hook_at = now
                time.sleep(0.005)
            mqtt_ms.append((mqtt_at - start) * 1000)
            hook_ms.append((hook_at - start) * 1000)
        print(f"singles ({args.singles}, poll 1 s): commit -> broker median "
              f"{statistics.median(mqtt_ms):.0f} ms, max {max(mqtt_ms):.0f} ms; "
              f"commit -> webhook median {statistics.median(hook_ms):.0f} ms, "
              f"max {max(hook_ms):.0f} ms")  # fmt: skip
        start = time.perf_counter()
        raise_alerts(args.burst)
        wait_for(arrived, "the burst", timeout=600)
        seconds = time.perf_counter() - start
        print(f"burst of {args.burst}: all on both channels in {seconds:.1f} s "
              f"({2 * args.burst / seconds:.0f} deliveries/s incl. one logged outcome each)")  # fmt: skip
        ids = [e["alert_id"] for _, e in sub.events()]
        print(f"duplicates: broker {len(ids) - len(set(ids))}, webhook "
              f"{len(hook.posts) - len({p['alert']['alert_id'] for p in hook.posts})}")  # fmt: skip
    finally:
        worker.stop()
        writer.close()
        sub.close()
        hook.stop()
        broker.stop()


if __name__ == "__main__":
    main()
