"""Planning commands of the ``storelens`` CLI: ``plan forecast`` and ``plan rota``.

``register(app)`` adds them (app/cli.py calls it). Exit codes: 0 ok, 2 bad input (an
unknown store, a date outside the history or the 14-day horizon, a bad config), with one
line that names the value and the fix. Like ``storelens kpi``, the command reads the
database file itself, so it sees what the file's owner sees (every store); the Staffing
page scopes the same numbers by the signed-in user's role.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from storelens.app.cli_data import DbOpt
from storelens.app.cli_errors import fail


def register(app: typer.Typer) -> None:
    """Add ``plan forecast`` and ``plan rota`` to ``app``."""
    plan_app = typer.Typer(help="Forecast traffic and plan a rota from it.", no_args_is_help=True)
    app.add_typer(plan_app, name="plan")

    @plan_app.command("forecast")
    def plan_forecast_command(
        store: Annotated[str, typer.Option("--store", help="store id")],
        date_: Annotated[
            str | None,
            typer.Option(
                "--from",
                help="first store-local day, YYYY-MM-DD (default: the day after the last complete one)",
            ),
        ] = None,
        days: Annotated[int, typer.Option(min=1, max=14, help="days ahead")] = 14,
        zones: Annotated[
            bool, typer.Option("--zones", help="also forecast the tracks in each zone")
        ] = False,
        db: DbOpt = None,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    ) -> None:
        """Traffic per opening hour (and zone), up to 14 days ahead, with an 80 % interval."""
        from datetime import timedelta

        from storelens.app.cli_data import _db
        from storelens.data.errors import DataError
        from storelens.data.forecast import forecast_store, load_history, zones_with_data
        from storelens.data.kpi import Scope
        from storelens.data.reader import open_reader

        first = None
        if date_ is not None:
            try:
                first = date.fromisoformat(date_)
            except ValueError:
                fail(f"--from {date_!r} is not a date; give one like 2026-03-02")
                return
        try:
            reader, scope = open_reader(_db(db)), Scope.everything()
            store_history = load_history(reader, store, scope)
            first = first or store_history.last_day + timedelta(days=1)
            histories = [store_history] + [
                load_history(reader, store, scope, zone=z)
                for z in (zones_with_data(reader, store, scope) if zones else [])
            ]
            frames = [forecast_store(h, first, days) for h in histories]
        except DataError as exc:
            fail(str(exc))
            return
        series = [
            {
                "zone": f["zone"][0],
                "hours": [
                    {
                        "day": r["day"].isoformat(),
                        "hour": r["hour"],
                        "forecast": round(r["forecast"], 1),
                        "interval": [round(r["lo"], 1), round(r["hi"], 1)],
                        "holiday": r["holiday"],
                    }
                    for r in f.iter_rows(named=True)
                ],
            }
            for f in frames
        ]
        if as_json:
            result = {"store_id": store, "from": first.isoformat(), "days": days}
            typer.echo(json.dumps({**result, "level": 80, "series": series}))
            return
        for s in series:
            typer.echo(f"{store} {s['zone'] or 'entrance'}: visitors per hour (80 % interval)")
            for h in s["hours"]:
                lo, hi = h["interval"]
                note = f"  {h['holiday']}" if h["holiday"] else ""
                typer.echo(
                    f"  {h['day']} {h['hour']:02d}:00 {h['forecast']:7.1f} "
                    f"({lo:.0f}–{hi:.0f}){note}"
                )

    @plan_app.command("rota")
    def plan_rota_command(
        store: Annotated[str, typer.Option("--store", help="store id")],
        date_: Annotated[
            str, typer.Option("--date", help="store-local day, YYYY-MM-DD (e.g. tomorrow)")
        ],
        db: DbOpt = None,
        config: Annotated[
            str | None,
            typer.Option(
                "--config",
                "-c",
                help="TOML config whose [store] gives country and min/max shift hours for "
                "that store id (default: env STORELENS_CONFIG; other stores use the defaults)",
            ),
        ] = None,
        csv_out: Annotated[
            Path | None,
            typer.Option("--csv", help="also write the rota here, in the shift-import format"),
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="one JSON object")] = False,
    ) -> None:
        """Recommended rota of one store for one day, beside the imported shifts."""
        from storelens.app.cli_data import _db
        from storelens.data.errors import DataError
        from storelens.data.kpi import Scope
        from storelens.data.reader import open_reader
        from storelens.data.rota import plan_rota, rules_for
        from storelens.kernel.config import active_config_path, load_config
        from storelens.kernel.errors import StoreLensError

        try:
            day = date.fromisoformat(date_)
        except ValueError:
            fail(f"--date {date_!r} is not a date; give one like 2026-03-02")
            return
        store_config = None
        try:
            path = active_config_path(config)
            store_config = load_config(path).store if path is not None else None
        except StoreLensError as exc:
            fail(str(exc))
        rules, country = rules_for(store, store_config)
        try:
            rota = plan_rota(open_reader(_db(db)), store, day, Scope.everything(), rules, country)
        except DataError as exc:
            fail(str(exc))
            return
        if csv_out is not None:
            try:
                csv_out.write_text(rota.to_csv(), encoding="utf-8")
            except OSError as exc:
                fail(f"--csv {csv_out}: cannot write ({exc.strerror}); pick a writable path")
        result = rota.as_dict()
        if as_json:
            typer.echo(json.dumps(result))
            return
        bt = result["backtest"]
        typer.echo(
            f"{store} {day}" + (f" (public holiday: {rota.holiday})" if rota.holiday else "")
        )
        typer.echo(
            f"forecast backtest, last {bt['windows']} weeks: WAPE {bt['wape_forecast']:.1%} "
            f"vs same-hour-last-week {bt['wape_naive']:.1%}"
        )
        typer.echo("hour  forecast (80 %)        recommended  planned")
        for h in result["hours"]:
            lo, hi = h["interval"]
            typer.echo(
                f"{h['hour']:02d}    {h['forecast']:6.0f} ({lo:4.0f}–{hi:4.0f})"
                f"   {h['staff_recommended']:11d}  {h['staff_planned']:7.1f}"
            )
        typer.echo("shifts:")
        for s in result["shifts"]:
            typer.echo(f"  {s['start']}–{s['end']}  {s['role']:9} €{s['cost']:,.2f}")
        cost = result["cost"]
        typer.echo(
            f"cost: recommended €{cost['recommended']:,.0f}, planned €{cost['planned']:,.0f} "
            f"at €{cost['hourly_rate']:.2f}/h"
        )
        for line in result["comparison"]:
            typer.echo(f"  {line}")
