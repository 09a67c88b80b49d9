"""Chain-mode commands of the ``storelens`` CLI: ``lake publish`` and ``lake status``.

``register(app)`` adds them (app/cli.py calls it). Exit codes: 0 ok, 2 bad input or
the lake refused / did not answer (the message names the option and the fix).

S3 lakes take the store's key from env ``STORELENS_LAKE_KEY`` / ``STORELENS_LAKE_SECRET``
(never from the URL).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from storelens.app.cli_data import DbOpt
from storelens.app.cli_errors import fail

LakeOpt = Annotated[
    str,
    typer.Option(
        "--lake", help="lake: a folder (var/lake) or s3://bucket/prefix?endpoint=http://host:port"
    ),
]


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
        db: DbOpt = None,
        store: Annotated[
            list[str] | None, typer.Option("--store", help="store id (repeatable; default: all)")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print a JSON summary")] = False,
        min_group: Annotated[
            int,
            typer.Option(
                "--min-group",
                min=1,
                help="expression cells with fewer readable tracks are not published "
                "(the store's privacy.min_group_size)",
            ),
        ] = 5,
    ) -> None:
        """Publish everything not yet published (a second run writes nothing)."""
        from storelens.data.errors import DataError
        from storelens.data.lake import open_lake, publish_db
        from storelens.kernel.paths import default_db_path

        try:
            summary = publish_db(
                db or default_db_path(), open_lake(lake), store or None, min_group=min_group
            )
        except DataError as exc:
            fail(str(exc))
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
        """Per store: closed and complete, open (the running hour partial) or late by its
        opening hours on its own clock, and the opening hours never published."""
        from storelens.data.freshness import store_freshness
        from storelens.data.lake import open_lake, read_manifests, status_rows
        from storelens.data.storetime import now_utc
        from storelens.kernel.errors import StoreLensError

        try:
            now = now_utc()
            manifests = read_manifests(open_lake(lake))
            rows = status_rows(manifests, now)
        except StoreLensError as exc:
            fail(str(exc))
            return
        for m, r in zip(manifests, rows, strict=True):
            # By the store's opening hours and clock: closed / partial / late (with zone).
            fresh = store_freshness(r["newest_local_hour"], m["store"], now)
            r["state"], r["freshness"] = fresh.state, fresh.label
        if as_json:
            typer.echo(json.dumps(rows, default=str))
            return
        if not rows:
            typer.echo(f"{lake}: no store has published yet")
        for r in rows:
            typer.echo(
                f"{r['store_id']:12} {r['region']:10} {r['freshness']}; "
                f"{r['missing_hours_total']} opening hour(s) never published in between"
            )

    @lake_app.command("demo-s3")
    def lake_demo_s3(
        db: Annotated[
            Path | None,
            typer.Option("--db", help="DuckDB with the demo chain (seeded if missing)"),
        ] = None,
        port: Annotated[int, typer.Option(help="dashboard port")] = 8501,
        data_dir: Annotated[
            Path | None, typer.Option(help="SeaweedFS data folder (default: var/seaweed)")
        ] = None,
        host: Annotated[
            str | None,
            typer.Option(
                help="dashboard address (default: 127.0.0.1 in demo mode without sign-in, "
                "else every interface), as for `storelens up`"
            ),
        ] = None,
    ) -> None:
        """The chain demo on a real object store: SeaweedFS with one key per store, every
        demo store publishes with its own key, and the dashboard (Summary, Compare) reads
        the bucket with a read-only HQ key. Ctrl-C stops everything.

        The dashboard starts as `storelens up` starts it (dashboard/asgi.py, the session
        routes included) and binds as it does: without sign-in everyone who reaches it sees
        every store, so 127.0.0.1 unless ``--host`` opts in (issue 18, item 10)."""
        import os
        import signal
        import subprocess
        import threading

        from storelens.app.addresses import dashboard_address, sign_in_configured
        from storelens.app.supervisor import dashboard_argv
        from storelens.data.demo import seed_demo
        from storelens.data.errors import DataError
        from storelens.data.lake import publish_db
        from storelens.data.objectstore import HQ, SeaweedS3
        from storelens.kernel.paths import PROJECT_ROOT, default_db_path, storelens_home

        try:
            dashboard_address(host, signin=True)  # a blank --host fails before anything starts
        except ValueError as exc:
            fail(str(exc))
            return
        db_path = db or default_db_path()
        try:
            if not db_path.exists():
                seed_demo(db_path)
            import duckdb

            con = duckdb.connect(str(db_path), read_only=True)
            try:
                stores = dict(con.execute("SELECT store_id, region FROM stores").fetchall())
            finally:
                con.close()
            server = SeaweedS3(data_dir or storelens_home() / "seaweed", stores=stores).start()
        except (DataError, OSError) as exc:
            fail(str(exc))
            return
        dashboard = None
        try:
            for store_id in sorted(stores):
                summary = publish_db(db_path, server.lake(store_id), [store_id])
                typer.echo(f"{store_id}: published {summary.written} object(s) with its own key")
            key, secret = server.keys[HQ]
            env = dict(
                os.environ,
                STORELENS_LAKE=server.url,
                STORELENS_LAKE_KEY=key,
                STORELENS_LAKE_SECRET=secret,
                STORELENS_DB=str(db_path),
            )
            address, listening = dashboard_address(host, sign_in_configured(env))
            dashboard = subprocess.Popen(dashboard_argv(port, address), env=env, cwd=PROJECT_ROOT)
            typer.echo(
                f"lake {server.url} (SeaweedFS); dashboard on http://localhost:{port} "
                "reads it with the read-only HQ key. Ctrl-C stops."
            )
            typer.echo(listening)
            stop = threading.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: stop.set())
            while not stop.wait(1.0) and dashboard.poll() is None:
                pass
        except DataError as exc:
            fail(str(exc))
        finally:
            if dashboard is not None and dashboard.poll() is None:
                dashboard.terminate()
                dashboard.wait(20)
            server.stop()
