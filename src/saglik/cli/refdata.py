"""``saglik refdata``: reference data the service needs beside the built-in provinces."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from saglik.cli.context import clear_errors, console, migrated_engine
from saglik.services.refdata import import_districts

app = typer.Typer(help="Reference data (districts).", no_args_is_help=True)


@app.command("import")
def import_(
    path: Annotated[
        Path | None,
        typer.Argument(
            metavar="PATH",
            exists=True,
            dir_okay=False,
            readable=True,
            show_default=False,
            help="A CSV with the columns district_code,plate,province,name. Without it, the "
            "973 districts shipped with saglik are loaded.",
        ),
    ] = None,
) -> None:
    """Load or update districts (codes, their province, names). Safe to run again.

    A new store already has the shipped districts; use this to put them back after loading
    another table, or to load another table (a district renamed or added since)."""
    with clear_errors():
        count = import_districts(migrated_engine(), path)
    console.print(f"{count} districts loaded")
