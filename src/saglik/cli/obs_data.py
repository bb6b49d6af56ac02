"""``saglik obs``: the death registry's operator side and the test records table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from saglik.cli.context import (
    change_log,
    clear_errors,
    clock,
    console,
    fail,
    known_env,
    migrated_engine,
)
from saglik.services.obs import ObsDataError, ObsRegistryService, parse_form
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
    return ObsRegistryService(migrated_engine(), clock(), change_log())


def _form(path: Path):  # type: ignore[no-untyped-def]
    try:
        return parse_form(path.read_bytes())
    except ObsDataError as exc:
        fail(f"{path.name}: {exc}")


@app.command("test-records")
def list_test_records(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the test environment's fixture death forms (FormNo, ReferansNo, what they cover)."""
    fixtures = obs_fixtures()
    if as_json:
        rows = [
            {
                "category": fx.category,
                "FormNo": fx.form_no,
                "ReferansNo": fx.referans_no,
                "TcKimlikNo": fx.form.identity_number,
                "PasaportNo": fx.form.passport_no,
            }
            for fx in fixtures
        ]
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table("category", "FormNo", "ReferansNo", "T.C. / passport")
    for fx in fixtures:
        table.add_row(
            fx.category, fx.form_no, fx.referans_no, fx.form.identity_number or fx.form.passport_no
        )
    console.print(table)


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
