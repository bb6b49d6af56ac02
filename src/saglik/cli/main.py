"""The ``saglik`` command: operators run the service and feed its data from here."""

from __future__ import annotations

from typing import Annotated

import typer

from saglik import __version__
from saglik.cli import (
    accounts,
    audit,
    audit_key,
    db,
    hes_data,
    hes_query,
    importing,
    obs_data,
    obs_query,
    refdata,
    tokens,
)
from saglik.cli.demo import app as demo_app
from saglik.cli.serve import serve

app = typer.Typer(
    help="saglik: the Ministry of Health G2G services (HES code query, ÖBS death notification).\n\n"
    "The store is chosen by SAGLIK_DATABASE_URL (default: sqlite file ./saglik.db).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="markdown",
)


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """saglik command line."""


app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(accounts.institution_app, name="institution")
app.add_typer(accounts.user_app, name="user")
hes_query.register(hes_data.app)  # saglik hes check: a client of the G2G services
obs_query.register(obs_data.app)  # saglik obs deaths | lookup | death-date
app.add_typer(hes_data.app, name="hes")
app.add_typer(obs_data.app, name="obs")
app.add_typer(refdata.app, name="refdata")
app.add_typer(tokens.app, name="token")
app.add_typer(audit.app, name="audit")
app.add_typer(audit_key.app, name="audit-key")
app.add_typer(importing.app, name="import")
app.add_typer(demo_app, name="demo")
