"""Push channels for alerts (issue 19 item 6): MQTT and webhooks. No SQL here; what to send
and when is :mod:`storelens.data.alert_delivery`'s business, this module only carries one
message to one place and says whether it got there.

- **MQTT** (the Frigate / Home Assistant convention): each alert is a JSON event on
  ``TOPIC/STORE/CAMERA/KIND`` (QoS 1, not retained), and the store's state (online, open
  alerts, the last alert) is a *retained* JSON message on ``TOPIC/STORE/state``, so a
  dashboard that subscribes later sees it at once. A publish counts as delivered when the
  broker acknowledged it (PUBACK).
- **Webhook**: a JSON POST ``{"text": "...", "alert": {...}}``; ``text`` is plain text that
  Slack/Teams-style receivers show as is. Delivered means a 2xx answer.

Credentials in a channel's URL (``user:pass@``) are used to connect (MQTT username and
password, HTTP basic auth) and nowhere else: every error raised here names the channel by
its label (:func:`~storelens.kernel.alert_channels.channel_label`) and is masked, so what
reaches logs, the delivery log and ``storelens alerts test`` carries no secret.
"""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

from storelens.data.errors import DataError
from storelens.kernel.alert_channels import AlertChannel, AlertChannelKind, channel_label
from storelens.kernel.redact import mask_url


class AlertChannelError(DataError):
    """A channel did not take a message (down, refused, timed out, rejected)."""


@dataclass(frozen=True)
class AlertMessage:
    """One alert as staff receive it: ``title`` / ``detail`` / ``action`` are the Live
    page's words (dashboard/alert_text.py), ``ts`` an ISO-8601 UTC time and ``local_time``
    the store's clock. ``id`` is stable per alert (``STORE-ALERT_ID``), so a receiver can
    drop the rare repeat (sent, then the process died before the delivery log said so)."""

    id: str
    alert_id: int
    store_id: str
    store: str
    camera_id: str
    camera: str
    kind: str
    zone: str | None
    zone_kind: str | None
    title: str
    detail: str
    action: str
    ts: str
    local_time: str
    test: bool = False

    @property
    def text(self) -> str:
        """One plain-text line a chat receiver shows as is."""
        parts = [f"{self.title} ({self.store}, {self.local_time})", self.detail, self.action]
        return " — ".join(p for p in parts if p)

    def payload(self) -> dict[str, Any]:
        return asdict(self)


class Session(Protocol):
    def send(self, message: AlertMessage) -> None:
        """Deliver one alert or raise :class:`AlertChannelError`."""

    def state(self, store_id: str, state: dict[str, Any]) -> None:
        """Publish the store's state where the channel has such a thing (MQTT)."""


def _safe(channel: AlertChannel, what: str, exc: BaseException | str) -> AlertChannelError:
    """An error naming the channel by its label, with anything URL-like masked."""
    reason = exc if isinstance(exc, str) else (str(exc) or type(exc).__name__)
    # A library may echo the URL it was given: swap it for the label, then mask any other
    # credential-looking URL the text still holds.
    reason = mask_url(reason.replace(channel.url, channel_label(channel)))
    return AlertChannelError(f"{channel_label(channel)}: {what}: {reason}")


def _strip_credentials(url: str) -> tuple[str, str | None, str | None]:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    clean = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return clean, user, password


class _WebhookSession:
    def __init__(self, channel: AlertChannel, timeout_s: float) -> None:
        self.channel, self.timeout_s = channel, timeout_s
        self.url, user, password = _strip_credentials(channel.url)
        self.headers = {"Content-Type": "application/json", "User-Agent": "StoreLens"}
        if user is not None:
            token = base64.b64encode(f"{user}:{password or ''}".encode()).decode()
            self.headers["Authorization"] = f"Basic {token}"

    def send(self, message: AlertMessage) -> None:
        body = json.dumps({"text": message.text, "alert": message.payload()}).encode()
        request = urllib.request.Request(self.url, body, self.headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                answer.read(65_536)
        except urllib.error.HTTPError as exc:
            raise _safe(self.channel, "refused", f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise _safe(self.channel, "unreachable", exc.reason) from None
        except (OSError, ValueError) as exc:  # timeouts, resets, a bad URL
            raise _safe(self.channel, "unreachable", exc) from None

    def state(self, store_id: str, state: dict[str, Any]) -> None:
        """Webhooks get events only: a chat channel has no place for a retained state."""


class _MqttSession:
    def __init__(self, channel: AlertChannel, timeout_s: float) -> None:
        import paho.mqtt.client as mqtt

        self.channel, self.timeout_s, self.topic = channel, timeout_s, channel.mqtt_topic
        parts = urlsplit(channel.url)
        tls = parts.scheme == "mqtts"
        _, user, password = _strip_credentials(channel.url)
        self._connected = threading.Event()
        self._refused: str | None = None
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311, clean_session=True
        )
        if user is not None:
            client.username_pw_set(user, password)
        if tls:
            client.tls_set()
        client.on_connect = self._on_connect
        self.client = client
        try:
            client.connect(parts.hostname or "", parts.port or (8883 if tls else 1883), 30)
        except (OSError, ValueError) as exc:
            raise _safe(channel, "cannot connect", exc) from None
        client.loop_start()
        if not self._connected.wait(timeout_s):
            self.close()
            raise _safe(channel, "cannot connect", f"no answer within {timeout_s:g} s")
        if self._refused:
            self.close()
            raise _safe(channel, "broker refused the connection", self._refused)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        self._connected.set()

    def _publish(self, topic: str, payload: dict[str, Any], retain: bool) -> None:
        info = self.client.publish(topic, json.dumps(payload), qos=1, retain=retain)
        try:
            info.wait_for_publish(self.timeout_s)
        except (RuntimeError, ValueError) as exc:  # not queued: the connection dropped
            raise _safe(self.channel, "publish failed", exc) from None
        if not info.is_published():
            raise _safe(self.channel, "publish failed", "the broker did not acknowledge it")

    def send(self, message: AlertMessage) -> None:
        topic = "/".join((self.topic, _level(message.store_id), _level(message.camera_id)))
        self._publish(f"{topic}/{_level(message.kind)}", message.payload(), retain=False)

    def state(self, store_id: str, state: dict[str, Any]) -> None:
        self._publish(f"{self.topic}/{_level(store_id)}/state", state, retain=True)

    def close(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


def _level(value: str) -> str:
    """A topic level from an id (ids are [a-z0-9_-]; anything else would split or match)."""
    return "".join(c if c not in "/#+" else "_" for c in value) or "_"


@contextmanager
def open_session(channel: AlertChannel, timeout_s: float = 5.0) -> Iterator[Session]:
    """A connection to ``channel`` for a round of messages (one MQTT connection, or the
    webhook's settings); raises :class:`AlertChannelError` when it cannot be opened."""
    if channel.kind is AlertChannelKind.WEBHOOK:
        yield _WebhookSession(channel, timeout_s)
        return
    session = _MqttSession(channel, timeout_s)
    try:
        yield session
    finally:
        session.close()
