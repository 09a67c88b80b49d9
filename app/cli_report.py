"""``storelens report weekly``: the week's story for a region, as a PDF or HTML file.

``register(app)`` adds the ``report`` group (app/cli.py calls it). Exit codes: 0 the
file was written, 2 anything else (one line naming the value and the fix; nothing is
written). ``--as USER`` scopes the numbers to a user of the dashboard's secrets file as the
pages would (a regional lead sees only their region); without it the report is the
database owner's, who sees every store.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated

import typer
from storelens.app.cli_data import DbOpt, _db
from storelens.app.cli_errors import fail


def _scoped(reader, user_name: str | None, secrets: Path):
    """``(reader, scope)`` for ``--as``: the KPI scope of that user, and over the read API a
    reader signed as that user so the server enforces the same scope."""
    from storelens.dashboard.auth import AuthError, api_caller, parse_users, scope_for
    from storelens.data.kpi import Scope
    from storelens.data.reader import as_caller

    if not user_name:
        return reader, Scope.everything()
    try:
        raw = tomllib.loads(secrets.read_text())
    except FileNotFoundError:
        fail(f"--secrets {secrets}: no such file; --as needs the dashboard's users file")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        fail(f"--secrets {secrets}: cannot read it ({exc})")
    try:
        users = parse_users(raw.get("users"))
    except AuthError as exc:
        fail(str(exc))
    entry = users.get(user_name.lower())
    if entry is None:
        fail(f"--as {user_name!r}: no such user in {secrets} (known: {', '.join(sorted(users))})")
    user = entry.as_user("local")
    reader = as_caller(reader, api_caller(user))
    return reader, scope_for(user, reader)


def register(app: typer.Typer) -> None:
    """Add ``report weekly`` to ``app``."""
    report_app = typer.Typer(help="Reports to send on (PDF or HTML).", no_args_is_help=True)
    app.add_typer(report_app, name="report")

    @report_app.command("weekly")
    def weekly(
        region: Annotated[str, typer.Option("--region", help="region, as in the stores table")],
        week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W49")],
        out: Annotated[Path, typer.Option("--out", help="FILE.pdf or FILE.html")],
        db: DbOpt = None,
        as_user: Annotated[
            str | None, typer.Option("--as", help="scope the numbers to this dashboard user")
        ] = None,
        secrets: Annotated[
            Path,
            typer.Option("--secrets", help="the dashboard's users (for --as)"),
        ] = Path(".streamlit/secrets.toml"),
        api: Annotated[
            str | None, typer.Option("--api", help="read API URL (default: env STORELENS_READ_API)")
        ] = None,
    ) -> None:
        """The week's story per region: headline KPIs with change, leading and lagging
        stores with reasons, € impact with its assumptions, data health, charts."""
        from storelens.dashboard.report_weekly import ReportError, render
        from storelens.dashboard.settings import min_group_size
        from storelens.data.errors import DataError
        from storelens.data.reader import open_reader
        from storelens.data.report import weekly_facts

        fmt = out.suffix.lower().lstrip(".")
        if fmt not in ("pdf", "html"):
            fail(f"--out {out}: the file must end in .pdf or .html")
        if not out.parent.exists():
            fail(f"--out {out}: folder {out.parent} does not exist; create it first")
        db_path = _db(db)
        if not api and not os.environ.get("STORELENS_READ_API") and not db_path.exists():
            fail(f"--db {db_path}: no such database (run `storelens demo seed --db {db_path}`)")
        try:
            reader = open_reader(db_path, api)
            reader, scope = _scoped(reader, as_user, secrets)
            facts = weekly_facts(reader, region, week, scope, min_group_size())
            content = render(facts, fmt)
        except (DataError, ReportError) as exc:
            fail(str(exc))
            return
        tmp = out.with_name(out.name + ".part")
        tmp.write_bytes(content)
        tmp.replace(out)  # never a half-written report under the real name
        typer.echo(f"wrote {out} ({len(content):,} bytes): {region}, {week}")
