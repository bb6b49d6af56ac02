"""``saglik db``: schema migrations."""

from __future__ import annotations

import typer

from saglik.cli.context import clear_errors, console, engine
from saglik.services.refdata import ensure_districts
from saglik.store import migrate

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Migrate the store named by SAGLIK_DATABASE_URL to the newest schema (or REVISION). At the
    newest schema, an empty district table gets the shipped districts."""
    with clear_errors():
        migrate.upgrade(engine(), revision)
        if migrate.current_revision(engine()) == migrate.head_revision():
            ensure_districts(engine())
        console.print(f"store at schema [bold]{migrate.current_revision(engine())}[/]")


@app.command()
def current() -> None:
    """Show the store's schema revision and the one this version needs."""
    with clear_errors():
        at = migrate.current_revision(engine())
    console.print(f"store: {at or 'empty'}; code: {migrate.head_revision()}", highlight=False)
