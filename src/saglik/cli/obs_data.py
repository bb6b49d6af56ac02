"""``saglik obs``: the death registry's operator side and the test records table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from saglik.cli.context import (
    clear_errors,
    console,
    fail,
    known_env,
    operator,
    print_record,
)
from saglik.cli.tables import print_whole, whole_table
from saglik.services.obs import ObsDataError, ObsRegistryService, parse_form, submitted_form
from saglik.services.obs_fixtures import obs_fixtures
from saglik.store import obs_repo

app = typer.Typer(
    help="ÖBS death forms: register, correct, approve, return; deaths, lookup and death-date "
    "query an ÖBS service.",
    no_args_is_help=True,
)


Env = Annotated[str, typer.Option("--env", callback=known_env, help="Environment: live or test.")]
FormNo = Annotated[str, typer.Argument(help="The form number (FormNo).")]
Referans = Annotated[
    str, typer.Option("--referans", help="The form's reference number (ReferansNo).")
]
FormFile = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, readable=True, help="The death form as JSON (see README)."
    ),
]


def _service() -> ObsRegistryService:
    return operator().obs


def _form(path: Path):  # type: ignore[no-untyped-def]
    try:
        return parse_form(path.read_bytes())
    except ObsDataError as exc:
        fail(f"{path.name}: {exc}")


@app.command("test-records")
def list_test_records(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of objects (snake_case keys).")
    ] = False,
) -> None:
    """List the test environment's fixture death forms: FormNo and ReferansNo, and the identity
    or passport number, names and birth date a lookup needs."""
    rows = [
        {
            "category": fx.category,
            "form_no": fx.form_no,
            "referans_no": fx.referans_no,
            "identity_number": fx.form.identity_number,
            "passport_no": fx.form.passport_no,
            "first_name": fx.form.first_name,
            "last_name": fx.form.last_name,
            "birth_date": fx.form.birth_date.isoformat() if fx.form.birth_date else None,
        }
        for fx in obs_fixtures()
    ]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = whole_table(
        "category", "FormNo", "ReferansNo", "T.C. / passport", "first name", "last name", "born"
    )
    for row in rows:
        table.add_row(
            row["category"],
            row["form_no"],
            row["referans_no"],
            row["identity_number"] or row["passport_no"],
            row["first_name"],
            row["last_name"],
            row["birth_date"] or "",
        )
    print_whole(table)


@app.command()
def register(path: FormFile, env: Env = "live") -> None:
    """Register one death form (validated whole) and print its FormNo and ReferansNo."""
    form = _form(path)
    with clear_errors():
        form_no, referans_no = _service().register(env, form)
    console.print(f"FormNo [bold]{form_no}[/]  ReferansNo [bold]{referans_no}[/]")


@app.command()
def correct(form_no: FormNo, referans: Referans, path: FormFile, env: Env = "live") -> None:
    """Replace a form's content with FILE.json; the change is kept in its history and shows in
    GetGuncellenenOlumlerByDate for today."""
    form = _form(path)
    with clear_errors():
        changes = _service().correct(env, form_no, referans, form)
    console.print(f"corrected: {', '.join(sorted(changes)) or 'no field changed'}")


@app.command()
def show(form_no: FormNo, referans: Referans, env: Env = "live") -> None:
    """Print a death form as JSON: its status, its content (as saglik obs register takes it) and
    its history with every earlier value.

    Reading it is logged (saglik audit changes, action read) under your login name."""
    with clear_errors():
        stored = _service().form(env, form_no, referans)
    record = stored.record
    print_record(
        {
            "env": env,
            "form_no": record.form_no,
            "referans_no": record.referans_no,
            "status": stored.status,
            "registered_at": record.registered_at,
            "updated_at": record.updated_at,
            "form": submitted_form(record),
            "history": stored.history,
        }
    )


@app.command()
def approve(form_no: FormNo, referans: Referans, env: Env = "live") -> None:
    """Approve a form (a history entry; it shows in the change feed)."""
    with clear_errors():
        _service().set_status(env, form_no, referans, obs_repo.APPROVED)
    console.print("approved")


@app.command("return")
def return_form(form_no: FormNo, referans: Referans, env: Env = "live") -> None:
    """Return a form to its author for correction (a history entry; it shows in the change feed)."""
    with clear_errors():
        _service().set_status(env, form_no, referans, obs_repo.RETURNED)
    console.print("returned")
