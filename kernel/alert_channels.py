"""Where push alerts go (issue 19 item 6): the ``[[alerts.channels]]`` tables of the store
TOML, one per channel.

```toml
[[alerts.channels]]
kind = "webhook"
url = "http://127.0.0.1:9000/hook"
[[alerts.channels]]
kind = "mqtt"
url = "mqtt://127.0.0.1:1883"
topic = "storelens"
```

A URL may carry credentials (``mqtt://user:pass@broker``, ``https://user:token@host``);
they are used to connect and nowhere else: :func:`channel_label` is how a channel is named
in logs, pages, the delivery log and ``storelens alerts test``. Its own module (no I/O) so
the config can import it without the MQTT or HTTP clients.
"""

from __future__ import annotations

import enum
import hashlib
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What the MQTT spec keeps out of a topic we publish to: wildcards, and no empty levels.
_TOPIC_PATTERN = r"^[^#+\s/]+(/[^#+\s/]+)*$"
_SCHEMES = {"webhook": ("http", "https"), "mqtt": ("mqtt", "mqtts")}


class AlertChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"
    MQTT = "mqtt"


class AlertChannel(BaseModel):
    """One channel push alerts are delivered to, with retries until it answers."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: AlertChannelKind = Field(
        description="webhook: a JSON POST whose `text` field Slack/Teams-style receivers show "
        "as is; mqtt: events on TOPIC/STORE/CAMERA/KIND plus a retained TOPIC/STORE/state"
    )
    url: str = Field(
        min_length=8,
        max_length=2000,
        description="webhook: http(s)://[user:pass@]host[:port]/path; "
        "mqtt: mqtt://[user:pass@]host[:port] (mqtts:// for TLS, default port 1883 / 8883). "
        "Credentials in the URL are never logged or shown",
    )
    topic: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        pattern=_TOPIC_PATTERN,
        description="mqtt only: the topic prefix (default storelens), no wildcards",
    )

    @model_validator(mode="after")
    def _url_fits_kind(self) -> AlertChannel:
        # The messages name the field, never the URL itself: it may hold a password.
        schemes = _SCHEMES[self.kind.value]
        try:
            parts = urlsplit(self.url)
            port = parts.port
        except ValueError:
            raise ValueError("url is not a valid URL (check the host and port)") from None
        if parts.scheme not in schemes:
            raise ValueError(
                f"a {self.kind.value} channel's url must start with "
                + " or ".join(f"{s}://" for s in schemes)
            )
        if not parts.hostname:
            raise ValueError("url names no host; write e.g. mqtt://127.0.0.1:1883")
        if port == 0:
            raise ValueError("url's port must be 1-65535")
        if self.kind is AlertChannelKind.WEBHOOK and self.topic is not None:
            raise ValueError("topic is for mqtt channels; remove it from the webhook channel")
        if self.kind is AlertChannelKind.MQTT and parts.path not in ("", "/"):
            raise ValueError("an mqtt url has no path; put the prefix in `topic`")
        return self

    @property
    def mqtt_topic(self) -> str:
        return self.topic or "storelens"


def channel_label(channel: AlertChannel) -> str:
    """How a channel is named to people and logs: kind, scheme, host, port and path, never
    the user name, password, query or fragment (a webhook token often lives there)."""
    parts = urlsplit(channel.url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    topic = f" topic {channel.mqtt_topic}" if channel.kind is AlertChannelKind.MQTT else ""
    return f"{channel.kind.value} {parts.scheme}://{host}{port}{parts.path}{topic}"


def channel_key(channel: AlertChannel) -> str:
    """A stable id of the channel for the delivery log: a digest of its label, so nothing
    of a credential goes into it and a changed password keeps the channel's history, while
    another host, path or topic is another channel."""
    return hashlib.sha256(channel_label(channel).encode()).hexdigest()[:16]
