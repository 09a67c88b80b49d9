"""Chain-mode commands of the ``storelens`` CLI: ``lake publish`` and ``lake status``.

``register(app)`` adds them (dashboard/cli.py calls it). Exit codes: 0 ok, 2 bad input or
the lake refused / did not answer (the message names the option and the fix).

S3 lakes take the store's key from env ``STORELENS_LAKE_KEY`` / ``STORELENS_LAKE_SECRET``
(never from the URL).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

LakeOpt = Annotated[
    str,
    typer.Option(
        "--lake", help="lake: a folder (var/lake) or s3://bucket/prefix?endpoint=http://host:port"
    ),
]


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add ``lake publish`` and ``lake status`` to ``app``."""
    lake_app = typer.Typer(
        help="Chain mode: publish this store's aggregates to a lake, see what the lake holds.",
        no_args_is_help=True,
    )
    app.add_typer(lake_app, name="lake")

    @lake_app.command("publish")
    def lake_publish(
        lake: LakeOpt,
        db: Annotated[
            Path | None,
            typer.Option(
                "--db", help="DuckDB file (default: env STORELENS_DB, else var/storelens.duckdb)"
            ),
        ] = None,
        store: Annotated[
            list[str] | None, typer.Option("--store", help="store id (repeatable; default: all)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
    ) -> None:
        """Publish everything not yet published (a second run writes nothing)."""
        from data.errors import DataError
        from data.lake import open_lake, publish_db
        from data.reader import default_db_path

        try:
            summary = publish_db(db or default_db_path(), open_lake(lake), store or None)
        except DataError as exc:
            _fail(str(exc))
            return
        info = summary.as_dict()
        if as_json:
            typer.echo(json.dumps(info, default=str))
            return
        typer.echo(
            f"published {info['written']} object(s) ({info['rows']} rows, {info['bytes']:,} bytes), "
            f"{info['unchanged']} unchanged, for {len(info['stores'])} store(s) in "
            f"{info['seconds']} s to {lake}"
        )

    @lake_app.command("status")
    def lake_status_command(
        lake: LakeOpt,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON list")] = False,
    ) -> None:
        """Per store: the newest published hour, how late it is, and the missing hours."""
        from data.errors import DataError
        from data.lake import lake_status, open_lake
        from data.lake_reader import freshness_label

        try:
            rows = lake_status(open_lake(lake), datetime.now(UTC))
        except DataError as exc:
            _fail(str(exc))
            return
        if as_json:
            typer.echo(json.dumps(rows, default=str))
            return
        if not rows:
            typer.echo(f"{lake}: no store has published yet")
        for r in rows:
            label = freshness_label(r["newest_local_hour"], r["lag_hours"])
            typer.echo(
                f"{r['store_id']:12} {r['region']:10} {label}; "
                f"{r['missing_hours_total']} missing opening hour(s)"
            )
