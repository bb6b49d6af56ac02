"""``saglik token``: bearer tokens for the operator API (``/admin/api``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from saglik.cli.context import clear_errors, console, operator
from saglik.cli.tables import print_whole, whole_table
from saglik.services.operator_tokens import OperatorTokens

app = typer.Typer(
    help="Bearer tokens for the operator API (/admin/api). A token is shown once; only its "
    "SHA-256 digest is stored. Send it as 'Authorization: Bearer TOKEN'.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="A name for the token's holder, e.g. ops-alice.")]


def _tokens() -> OperatorTokens:
    return operator().tokens


@app.command()
def create(name: Name) -> None:
    """Create a token and print it once (changes made with it are logged as token:NAME)."""
    with clear_errors():
        token = _tokens().create(name)
    console.print(f"token [bold]{escape(name)}[/] (shown once, store it now):")
    print(token)


@app.command("list")
def list_tokens() -> None:
    """List tokens by name, with when they were created and revoked (never the tokens)."""
    with clear_errors():
        records = _tokens().list()
    table = whole_table("name", "created (UTC)", "revoked (UTC)")
    for r in records:
        table.add_row(
            escape(r.name),
            f"{r.created_at:%Y-%m-%d %H:%M}",
            f"{r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "",
        )
    print_whole(table)


@app.command()
def revoke(name: Name) -> None:
    """Revoke a token: the operator API refuses it from the next request on."""
    with clear_errors():
        _tokens().revoke(name)
    console.print(f"token [bold]{escape(name)}[/] revoked")
