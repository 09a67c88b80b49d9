"""How every ``storelens`` command says no: one red line on stderr, then an exit code.

Exit 2 is bad input or a config a user must fix (the supervisor does not restart a
pipeline that exits 2: restarting cannot help); commands that measure or deliver use 1 for
"ran, but something failed" (``alerts test``, ``import`` without ``--force``).
"""

from __future__ import annotations

from typing import NoReturn

import typer

EXIT_USAGE = 2


def fail(message: object, code: int = EXIT_USAGE) -> NoReturn:
    """Print ``error: <message>`` in red on stderr and exit with ``code``."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)
