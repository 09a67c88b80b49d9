"""Data commands of the ``storelens`` CLI: demo seed, kpi, import sales|shifts.

``register(app)`` adds them to the main typer app (app/cli.py calls it). Heavy
imports happen inside each command so ``storelens --help`` stays instant.

Exit codes: 0 ok, 1 an import file was rejected or has rows flagged implausible without
``--force`` (per-row report printed; nothing written), 2 any other
error (message names the file / store and the fix).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from storelens.app.cli_errors import fail

DbOpt = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="DuckDB file (default: env STORELENS_DB, else storelens.duckdb in STORELENS_HOME, "
        "var/ in a checkout)",
    ),
]


def _db(db: Path | None) -> Path:
    from storelens.kernel.paths import default_db_path

    return db or default_db_path()


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} {text!r}: expected a date like 2026-03-02") from None


ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="write rows flagged implausible against the store's own history (e.g. a "
        "€99,999,999 receipt) after checking them; without it such a file changes nothing",
    ),
]


def _import(kind: str, file: Path, db: Path | None, as_json: bool, force: bool = False) -> None:
    from storelens.data.errors import DatabaseLocked, DataError, ImportRejected
    from storelens.data.imports import import_file
    from storelens.data.reader import published_api

    db_path = _db(db)
    try:
        api = published_api(db_path)
        try:
            if api is not None:  # the pipeline owns the file: its writer imports
                report = api.import_file(kind, file.name, file.read_bytes(), force)
            else:
                report = import_file(db_path, kind, file, force).as_dict()  # type: ignore[arg-type]
        except DatabaseLocked:
            # The pipeline owns the file: hand the file to its writer through the read API.
            api = published_api(db_path)
            if api is None:
                raise
            report = api.import_file(kind, file.name, file.read_bytes(), force)
    except ImportRejected as exc:
        report = exc.report.as_dict() if hasattr(exc.report, "as_dict") else exc.report
        if as_json:
            typer.echo(json.dumps(report, default=str))
        else:
            typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except (DataError, OSError) as exc:
        fail(str(exc))
        return
    if as_json:
        typer.echo(json.dumps(report, default=str))
    elif report.get("already_imported"):
        typer.echo(f"{file}: already imported earlier; nothing added.")
    else:
        if report.get("forced"):
            typer.echo(
                f"{file}: imported with --force: {report['flagged_total']} row(s) flagged "
                "implausible were written as they are."
            )
        typer.echo(
            f"{file}: {report['rows_added']} {kind} row(s) added, "
            f"{report['rows_already_present']} already present, of {report['rows_total']}."
        )


def register(app: typer.Typer) -> None:
    """Add ``demo seed``, ``kpi`` and ``import sales|shifts`` to ``app``."""
    demo_app = typer.Typer(help="Demo history.", no_args_is_help=True)
    import_app = typer.Typer(
        help="Import POS sales or staff shifts (CSV or Parquet).", no_args_is_help=True
    )
    app.add_typer(demo_app, name="demo")
    app.add_typer(import_app, name="import")

    @demo_app.command("seed")
    def demo_seed(
        db: DbOpt = None,
        days: Annotated[int, typer.Option(min=1, max=800, help="days of history")] = 90,
        stores: Annotated[int, typer.Option(min=1, max=12, help="how many stores")] = 12,
        seed: Annotated[int, typer.Option(help="random seed (same seed = same history)")] = 7,
    ) -> None:
        """Write demo history (ending yesterday) through the writer; re-running adds nothing."""
        from storelens.data.demo import seed_demo
        from storelens.data.errors import DataError

        try:
            summary = seed_demo(_db(db), days=days, stores=stores, seed=seed)
        except DataError as exc:
            fail(str(exc))
            return
        info = summary.as_dict()
        if info["already_seeded"]:
            typer.echo(f"{_db(db)} already has demo history; nothing added (use a new --db).")
            return
        typer.echo(
            f"seeded {info['stores']} stores, {info['start']}..{info['end']} into {_db(db)} "
            f"in {info['seconds']} s: " + ", ".join(f"{k} {v}" for k, v in info["rows"].items())
        )

    @app.command("kpi")
    def kpi_command(
        store: Annotated[str, typer.Option("--store", help="store id")],
        from_: Annotated[str, typer.Option("--from", help="first store-local day, YYYY-MM-DD")],
        to: Annotated[str, typer.Option("--to", help="last store-local day, YYYY-MM-DD")],
        db: DbOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
        api: Annotated[
            str | None, typer.Option("--api", help="read API URL (default: env STORELENS_READ_API)")
        ] = None,
        lake: Annotated[
            str | None,
            typer.Option("--lake", help="read the chain's lake (folder or s3://…) instead of --db"),
        ] = None,
    ) -> None:
        """Headline KPIs of one store for a period."""
        from storelens.data.errors import DataError
        from storelens.data.kpi import headline
        from storelens.data.reader import open_reader

        start, end = _date(from_, "--from"), _date(to, "--to")
        if end < start:
            raise typer.BadParameter(f"--to {to} is before --from {from_}")
        try:
            if lake:
                from storelens.data.lake_reader import LakeReader

                reader = LakeReader(lake)
            else:
                reader = open_reader(_db(db), api)
            result = headline(reader, store, start, end)
        except DataError as exc:
            fail(str(exc))
            return
        if as_json:
            typer.echo(json.dumps(result, default=str))
            return
        for key, value in result.items():
            shown = f"{value:,.3f}" if isinstance(value, float) else value
            typer.echo(f"{key:28} {shown}")

    @import_app.command("sales")
    def import_sales(
        file: Annotated[
            Path,
            typer.Argument(help="CSV or Parquet: ts, store_id, amount[, register, transaction_id]"),
        ],
        db: DbOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
        force: ForceOpt = False,
    ) -> None:
        """Import POS transactions; a file with any bad row changes nothing (exit 1), and
        one with implausible rows only with --force."""
        _import("sales", file, db, as_json, force)

    @import_app.command("shifts")
    def import_shifts(
        file: Annotated[
            Path,
            typer.Argument(
                help="CSV or Parquet: store_id, staff_role, start_ts, end_ts, hourly_cost"
            ),
        ],
        db: DbOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
        force: ForceOpt = False,
    ) -> None:
        """Import staff shifts; a file with any bad row changes nothing (exit 1), and one
        with implausible rows only with --force."""
        _import("shifts", file, db, as_json, force)
