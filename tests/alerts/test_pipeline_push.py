"""An alert raised in the real pipeline process reaches a real mosquitto broker and a real
webhook receiver exactly once (issue 19 item 6, "done when"): raised while both channels
are down, it waits in the delivery log and arrives once they are back; a pipeline restart
sends it no second time; the channels' credentials appear in no log line.

The alert is the pipeline's own: a camera whose source does not exist goes offline and the
camera-offline rule fires (alerts.offline_s = 5).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from tests.alerts.receivers import Broker, Subscriber, Webhook, wait_for

PASSWORD, TOKEN = "pipeline-mqtt-secret", "pipeline-hook-secret"
PIPELINE = [sys.executable, "-m", "storelens.app.cli", "pipeline"]


def start_pipeline(config: Path, db: Path, home: Path, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, STORELENS_HOME=str(home), STORELENS_STREAM_SECRET="s3cret")
    env.pop("STORELENS_LAKE", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [*PIPELINE, "--config", str(config), "--db", str(db)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 0


def test_a_pipeline_alert_arrives_once_after_an_outage_and_a_restart(tmp_path: Path) -> None:
    broker, hook = Broker(tmp_path).start(), Webhook()  # the receiver is down for now
    sub = Subscriber(broker.port)  # its session outlives the broker's outage
    broker.stop()
    config = tmp_path / "store.toml"
    config.write_text(
        f"""
[store]
store_id = "p1"
name = "Pipeline Street"

[alerts]
offline_s = 5
retry_initial_s = 0.2
retry_max_s = 1.0

[[alerts.channels]]
kind = "webhook"
url = "http://ops:{TOKEN}@127.0.0.1:{hook.port}/hook"
[[alerts.channels]]
kind = "mqtt"
url = "mqtt://storelens:{PASSWORD}@127.0.0.1:{broker.port}"
topic = "storelens"

[[cameras]]
camera_id = "gone"
name = "Back door"
source = "{tmp_path / "no-such-clip.mp4"}"
"""
    )
    db, home, log = tmp_path / "store.duckdb", tmp_path / "home", tmp_path / "pipeline.log"
    proc = start_pipeline(config, db, home, log)
    try:
        # The camera goes offline, the rule fires, both deliveries fail and are retried.
        wait_for(
            lambda: proc.poll() is None and log.read_text().count("(retrying with backoff)") >= 2,
            "failed deliveries to both channels in the pipeline's log",
            timeout=240,
        )
        broker.start()
        hook.start()
        wait_for(lambda: sub.events() and hook.posts, "the alert once the channels are back")
        [(topic, event)] = sub.events()
        assert topic == "storelens/p1/gone/camera_offline"
        assert event["title"] == "Camera offline" and event["camera"] == "Back door"
        assert "source not found" in event["detail"]
        stop(proc)

        restarted = datetime.now(UTC).isoformat()
        proc = start_pipeline(config, db, home, log)
        # The restarted pipeline publishes the store state after its first delivery round:
        # a repeat of the alert would have gone out before it, on the same connection.
        wait_for(
            lambda: any(s["updated"] > restarted for s in sub.states()),
            "the restarted pipeline's store state",
            timeout=240,
        )
        stop(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        sub.close()
        hook.stop()
        broker.stop()
    assert len(sub.events()) == 1 and len(hook.posts) == 1
    assert hook.posts[0]["alert"]["id"] == event["id"]
    assert hook.posts[0]["text"].startswith("Camera offline (Pipeline Street, ")
    text = log.read_text()
    assert "alert delivery to webhook http://127.0.0.1" in text
    assert PASSWORD not in text and TOKEN not in text and "ops:" not in text
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute(
            "SELECT status, attempts, last_error FROM alert_deliveries ORDER BY channel_key"
        ).fetchall()
        alerts = con.execute("SELECT count(*) FROM alerts WHERE camera_id = 'gone'").fetchall()
    finally:
        con.close()
    assert alerts == [(1,)]  # the restart raised no second alert for the same outage
    assert [r[0] for r in rows] == ["delivered", "delivered"]
    assert all(r[1] >= 2 for r in rows)  # failed at least once while down
    assert not any(PASSWORD in (r[2] or "") or TOKEN in (r[2] or "") for r in rows)
