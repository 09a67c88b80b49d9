"""The ``storelens`` command.

It lives in dashboard/ because it orchestrates all three rooms (dashboard may
import storelens.data and storelens.detectors; nothing imports back). Heavy libraries are imported
inside each command so ``storelens --help`` stays instant.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from storelens.app.cli_data import DbOpt
from storelens.app.cli_errors import fail
from storelens.kernel.errors import StoreLensError
from storelens.kernel.paths import check_private, private_umask, runtime_files

app = typer.Typer(
    name="storelens",
    help="StoreLens: store cameras in, operating numbers out.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(
    help="Model registry: list, verify and prepare model files.", no_args_is_help=True
)
app.add_typer(models_app, name="models")

# 0: a free port the system picks, published in <db>.services.json (where the dashboard
# and every tool look), so a second StoreLens or another program on a port never collides.
ApiPortOpt = Annotated[
    int, typer.Option(min=0, max=65535, help="read API port (0: a free one, published)")
]
TilePortOpt = Annotated[
    int, typer.Option(min=0, max=65535, help="MJPEG tile server port (0: a free one, published)")
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config", "-c", help="TOML config (default: env STORELENS_CONFIG, else the demo store)"
    ),
]


def _db(db: Path | None) -> Path:
    from storelens.kernel.paths import default_db_path

    return db or default_db_path()


@app.command()
def up(
    config: ConfigOpt = None,
    db: DbOpt = None,
    port: Annotated[int, typer.Option(help="dashboard port")] = 8501,
    seed: Annotated[
        bool, typer.Option(help="seed 90 days of demo history into a new database")
    ] = True,
    lake: Annotated[
        str | None,
        typer.Option(
            help="chain mode: the pipeline publishes to this lake (folder or s3://…) and "
            "Summary / Compare read every store from it (default: env STORELENS_LAKE)"
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            help="dashboard address (default: 127.0.0.1 in demo mode without sign-in, "
            "else every interface); the live tiles listen there too"
        ),
    ] = None,
    api_port: ApiPortOpt = 0,
    tile_port: TilePortOpt = 0,
) -> None:
    """Start everything: the pipeline (cameras, models, writer) and the dashboard."""
    import os

    from storelens.app.addresses import (
        LOOPBACK,
        dashboard_address,
        sign_in_configured,
        tile_host_for,
    )
    from storelens.app.pipeline_process import check_port_free, resolve_config
    from storelens.app.supervisor import run_up

    try:
        dashboard_address(host, signin=True)  # a blank --host fails before anything starts
    except ValueError as exc:
        fail(exc)
    try:  # a taken port is one line here, before anything starts (never a crash loop)
        address, _ = dashboard_address(host, sign_in_configured())
        check_port_free("dashboard", "--port", address, port)
        check_port_free("read API", "--api-port", LOOPBACK[0], api_port)
        check_port_free("tile server", "--tile-port", tile_host_for(address), tile_port)
    except StoreLensError as exc:
        fail(exc)
    try:  # runtime files too open: tightened, or refused here, before any child starts
        check_private(runtime_files(_db(db)))
    except StoreLensError as exc:
        fail(exc)

    if lake:
        from storelens.data.errors import DataError
        from storelens.data.lake import open_lake

        try:
            parsed = open_lake(lake)  # a bad URL fails here, naming the option, not in a child
        except DataError as exc:
            fail(exc)
            return
        # Both children inherit it; a folder as an absolute path (they run in the project root).
        os.environ["STORELENS_LAKE"] = parsed.root if parsed.is_local else lake

    try:
        resolve_config(config)
        config_error = None
    except StoreLensError as exc:
        # Loud here, and the dashboard starts in safe mode showing the same message.
        typer.secho(
            f"error: {exc}\nstarting the dashboard in safe mode", fg=typer.colors.RED, err=True
        )
        config_error = str(exc)
    raise typer.Exit(
        run_up(
            config,
            _db(db),
            port,
            seed,
            config_error,
            host=host,
            api_port=api_port,
            tile_port=tile_port,
        )
    )


@app.command()
def pipeline(
    config: ConfigOpt = None,
    db: DbOpt = None,
    tile_port: TilePortOpt = 0,
    api_port: ApiPortOpt = 0,
    tile_host: Annotated[
        str, typer.Option(help="address the tile server binds (0.0.0.0: browsers on other hosts)")
    ] = "127.0.0.1",
) -> None:
    """Run the pipeline process alone (all cameras of one store; the only DuckDB writer)."""
    from storelens.app.pipeline_process import resolve_config, run_pipeline

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        raise typer.Exit(
            run_pipeline(
                resolve_config(config),
                _db(db),
                tile_port=tile_port,
                api_port=api_port,
                tile_host=tile_host,
            )
        )
    except StoreLensError as exc:
        fail(exc)


@models_app.command("list")
def models_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every model: purpose, file, licence, where it would be loaded from."""
    from storelens.detectors.registry import MODELS, model_status

    rows = []
    for name, spec in MODELS.items():
        status = model_status(name)
        rows.append(
            {
                "name": name,
                "purpose": spec.purpose,
                "file": spec.filename,
                "licence": spec.licence,
                "sha256": spec.sha256,
                "ok": status.ok,
                "provider": status.provider,
                "detail": status.detail,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        mark = "ok " if r["ok"] else "-- "
        typer.echo(f"{mark}{r['name']:22} {r['file']:28} {r['licence']:40} {r['provider']}")
        typer.echo(f"    {r['purpose']}")


@models_app.command("verify")
def models_verify() -> None:
    """Check every model file's SHA-256 without loading it; exit 1 if any is missing or wrong."""
    from storelens.detectors.registry import MODELS, model_status

    bad = 0
    for name in MODELS:
        status = model_status(name)
        typer.echo(
            f"{'ok' if status.ok else 'FAIL':4} {name:22} {status.provider:22} {status.detail}"
        )
        bad += not status.ok
    raise typer.Exit(1 if bad else 0)


@models_app.command("prepare")
def models_prepare(
    imgsz: Annotated[
        list[int] | None, typer.Option(help="input sizes to export (repeatable)")
    ] = None,
    onnx: Annotated[bool, typer.Option(help="also export ONNX")] = True,
    int8: Annotated[
        bool, typer.Option(help="also quantise the person model to INT8 (NNCF, shared clips)")
    ] = True,
) -> None:
    """Export the person model and the expression trunk to OpenVINO, once (idempotent)."""
    from storelens.detectors.appearance import INPUT_PX, prepare_trunk
    from storelens.detectors.persons import prepare_person_model

    try:
        for size in imgsz or [416]:
            for backend in ["openvino", *(["onnx"] if onnx else [])]:
                typer.echo(f"{backend:8} {size}: {prepare_person_model(backend, size)}")
            if int8:
                from storelens.detectors.int8 import prepare_int8_person_model

                made = prepare_int8_person_model(size)
                a = made.agreement
                typer.echo(
                    f"int8     {size}: {made.xml} ({'cached' if made.cached else 'made'}; "
                    f"against FP32 on {a['frames']} held-back frames: {a['found_again']} of "
                    f"{a['fp32_boxes']} boxes found again, mean IoU {a['mean_iou']}, "
                    f"{a['added']} added, same count in {a['frames_same_count']} frames)"
                )
        typer.echo(f"trunk    {INPUT_PX}: {prepare_trunk()}")
    except StoreLensError as exc:
        fail(exc)


def _register_optional() -> None:
    """Commands that other modules contribute (data side, analysis)."""
    for module in (
        "storelens.app.cli_data",
        "storelens.app.cli_vision",
        "storelens.app.cli_lake",
        "storelens.app.cli_alerts",
        "storelens.app.cli_plan",
        "storelens.app.cli_report",
    ):
        try:
            mod = __import__(module, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        mod.register(app)


_register_optional()


def main() -> None:
    private_umask()  # runtime files 0600, folders 0700; children inherit it
    app()


if __name__ == "__main__":
    private_umask()
    sys.exit(app())
