"""``saglik refdata``: reference data the service needs beside the shipped provinces."""

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
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with columns district_code,plate,province,name (e.g. tr_districts.csv).",
        ),
    ],
) -> None:
    """Load or update districts (codes, their province, names). Safe to run again."""
    with clear_errors():
        count = import_districts(migrated_engine(), path)
    console.print(f"{count} districts loaded")
