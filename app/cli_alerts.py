"""``storelens alerts test``: one test alert through every configured push channel
(issue 19 item 6), so whoever sets a store up sees at once whether staff will be reached.

Prints one line per channel, ``<channel>: delivered`` or ``<channel>: error: <why>``, the
channel named by its label (never a credential from its URL). Exit codes: 0 every channel
took the test alert, 1 at least one did not, 2 bad input (a broken config, no channels).
The test goes straight to the channels: nothing is written to the database, and MQTT gets
it on ``TOPIC/STORE/test/test`` so the retained store state is left alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from storelens.app.cli_errors import fail

TEST_KIND = "test"


def register(app: typer.Typer) -> None:
    """Add ``alerts test`` to ``app``."""
    alerts_app = typer.Typer(help="Push alerts: try the configured channels.", no_args_is_help=True)
    app.add_typer(alerts_app, name="alerts")

    @alerts_app.command("test")
    def alerts_test(
        config: Annotated[
            str | None,
            typer.Option(
                "--config",
                "-c",
                help="store TOML with [[alerts.channels]] (default: env STORELENS_CONFIG, "
                "else the config Setup saved)",
            ),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
    ) -> None:
        """Send one test alert through every configured channel; exit 1 if any failed."""
        from storelens.app.pipeline_process import resolve_config
        from storelens.data.alert_channels import AlertChannelError, AlertMessage, open_session
        from storelens.kernel.alert_channels import channel_label
        from storelens.kernel.errors import StoreLensError

        try:
            loaded = resolve_config(config)
        except StoreLensError as exc:
            fail(str(exc))
            return
        channels = loaded.alerts.channels
        if not channels:
            fail(
                f"no push channels configured for store {loaded.store.store_id!r}; add "
                '[[alerts.channels]] with kind = "webhook" or "mqtt" and a url to the store '
                "TOML (README: Push alerts) and pass it with --config"
            )
        store = loaded.store
        now = datetime.now(UTC)
        message = AlertMessage(
            id=f"{store.store_id}-test-{int(now.timestamp())}",
            alert_id=0,
            store_id=store.store_id,
            store=store.name,
            camera_id=TEST_KIND,
            camera="",
            kind=TEST_KIND,
            zone=None,
            zone_kind=None,
            title="StoreLens test alert",
            detail="Sent by `storelens alerts test`: this channel reaches the store's staff.",
            action="Nothing to do.",
            ts=now.isoformat(),
            local_time=now.strftime("%H:%M UTC"),
            test=True,
        )
        results = []
        for channel in channels:
            error = None
            try:
                with open_session(channel, loaded.alerts.send_timeout_s) as session:
                    session.send(message)
            except AlertChannelError as exc:
                error = str(exc).removeprefix(f"{channel_label(channel)}: ")
            results.append(
                {
                    "channel": channel_label(channel),
                    "kind": channel.kind.value,
                    "delivered": error is None,
                    "error": error,
                }
            )
        ok = all(r["delivered"] for r in results)
        if as_json:
            typer.echo(json.dumps({"ok": ok, "channels": results}))
        else:
            for r in results:
                typer.echo(
                    f"{r['channel']}: "
                    + ("delivered" if r["delivered"] else f"error: {r['error']}")
                )
        if not ok:
            raise typer.Exit(1)
