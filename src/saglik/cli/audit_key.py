"""``saglik audit-key``: the audit pseudonym key ring, which lives outside the store."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from saglik.cli.context import change_log, clear_errors, console, migrated_engine, settings
from saglik.cli.tables import print_whole, whole_table
from saglik.services import audit_key

app = typer.Typer(
    help="The audit pseudonym key: kept outside the store (a key file, or SAGLIK_AUDIT_KEY); "
    "see README, Audit pseudonym key.",
    no_args_is_help=True,
)


@app.command()
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Where the key ring is, and its keys by id and fingerprint (never a key): the current one,
    and those the store has made pseudonyms with. Compare fingerprints to check a backup."""
    with clear_errors():
        where, keys = audit_key.describe(migrated_engine(), settings())
    if as_json:
        print(json.dumps({"source": where, "keys": [asdict(k) for k in keys]}))
        return
    console.print(f"key ring: {where}", highlight=False, soft_wrap=True)
    table = whole_table("id", "fingerprint", "current", "used by this store")
    for key in keys:
        table.add_row(
            key.id, key.fingerprint, "yes" if key.current else "", "yes" if key.used else ""
        )
    print_whole(table)


@app.command()
def rotate() -> None:
    """Add a new key to the key file and make it the current one. Older keys stay in the file, so
    the data subject's view still finds everything made with them; restart the server to start
    using the new key. Back up the key file again afterwards."""
    with clear_errors():
        new = audit_key.rotate(migrated_engine(), settings(), change_log())
    console.print(
        f"new current audit key {new.id} (fingerprint {new.fingerprint}); restart saglik serve "
        "to use it, and back up the key file again",
        highlight=False,
        soft_wrap=True,
    )
