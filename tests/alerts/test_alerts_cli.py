"""`storelens alerts test` (issue 19 item 6) as a user runs it: the real command against a
real mosquitto broker and a real HTTP receiver; one down channel makes it exit 1 and says
why; no channels or a broken config is bad input (exit 2); no credential is ever printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.alerts.receivers import Broker, Subscriber, Webhook, free_port, wait_for

PASSWORD, TOKEN = "brokerpass-777", "hooktoken-888"


def storelens(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, STORELENS_HOME=str(home))
    env.pop("STORELENS_CONFIG", None)
    return subprocess.run(
        [sys.executable, "-m", "storelens.app.cli", "alerts", "test", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_config(path: Path, webhook_port: int, mqtt_port: int) -> Path:
    path.write_text(
        f"""
[store]
store_id = "s1"
name = "Kingsway"

[[alerts.channels]]
kind = "webhook"
url = "http://ops:{TOKEN}@127.0.0.1:{webhook_port}/hook"
[[alerts.channels]]
kind = "mqtt"
url = "mqtt://storelens:{PASSWORD}@127.0.0.1:{mqtt_port}"
topic = "storelens"
"""
    )
    return path


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[tuple[Broker, Webhook]]:
    broker = Broker(tmp_path).start()
    hook = Webhook().start()
    try:
        yield broker, hook
    finally:
        hook.stop()
        broker.stop()


def test_every_channel_delivers_the_test_alert(
    tmp_path: Path, receivers: tuple[Broker, Webhook]
) -> None:
    broker, hook = receivers
    sub = Subscriber(broker.port)
    try:
        config = write_config(tmp_path / "store.toml", hook.port, broker.port)
        done = storelens("--config", str(config), home=tmp_path / "home")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            f"webhook http://127.0.0.1:{hook.port}/hook: delivered",
            f"mqtt mqtt://127.0.0.1:{broker.port} topic storelens: delivered",
        ]
        [(topic, event)] = wait_for(sub.events, "the test alert on the broker")
    finally:
        sub.close()
    assert topic == "storelens/s1/test/test" and event["test"] is True
    [post] = hook.posts
    assert post["text"].startswith("StoreLens test alert (Kingsway, ")
    assert sub.states() == []  # the retained store state is left alone
    assert PASSWORD not in done.stdout + done.stderr and TOKEN not in done.stdout + done.stderr


def test_a_down_channel_exits_1_and_says_why(
    tmp_path: Path, receivers: tuple[Broker, Webhook]
) -> None:
    _, hook = receivers
    closed = free_port()  # nothing listens here: the "broker" is down
    config = write_config(tmp_path / "store.toml", hook.port, closed)
    done = storelens("--config", str(config), "--json", home=tmp_path / "home")
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] is False
    webhook, mqtt = summary["channels"]
    assert (webhook["kind"], webhook["delivered"], webhook["error"]) == ("webhook", True, None)
    assert mqtt["channel"] == f"mqtt mqtt://127.0.0.1:{closed} topic storelens"
    assert mqtt["delivered"] is False and "Connection refused" in mqtt["error"]
    assert PASSWORD not in done.stdout + done.stderr and "storelens:" not in mqtt["error"]

    hook.status = 503  # the receiver answers, but refuses
    done = storelens("--config", str(config), home=tmp_path / "home")
    assert done.returncode == 1
    assert f"webhook http://127.0.0.1:{hook.port}/hook: error: refused: HTTP 503" in done.stdout
    assert TOKEN not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('[store]\nstore_id = "s1"\n', "no push channels configured"),
        (
            '[[alerts.channels]]\nkind = "mqtt"\nurl = "http://u:hunter2@host/x"\n',
            "alerts.channels[0]",
        ),
        ('[[alerts.channels]]\nkind = "pager"\nurl = "http://host/x"\n', "alerts.channels[0].kind"),
    ],
)
def test_bad_input_exits_2_naming_the_field(tmp_path: Path, toml: str, says: str) -> None:
    config = tmp_path / "store.toml"
    config.write_text(toml)
    done = storelens("--config", str(config), home=tmp_path / "home")
    assert done.returncode == 2, done.stdout
    assert says in done.stderr and "hunter2" not in done.stderr
    assert done.stdout == ""
