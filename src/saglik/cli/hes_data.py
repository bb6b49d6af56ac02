"""``saglik hes``: the test codes table and minimal live data entry."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Annotated

import typer

from saglik.cli.context import (
    clear_errors,
    console,
    fail,
    known_env,
    operator,
    print_record,
    utc_moment,
)
from saglik.cli.tables import print_whole, whole_table
from saglik.services.fixtures import hes_fixtures
from saglik.services.hes import HesDataService

app = typer.Typer(
    help="HES data: test codes and data entry; saglik hes check asks a HES service about codes.",
    no_args_is_help=True,
)
person_app = typer.Typer(help="Persons (code holders).", no_args_is_help=True)
code_app = typer.Typer(help="HES codes.", no_args_is_help=True)
risk_app = typer.Typer(
    help="Risk periods (isolation of a case, quarantine of a contact).", no_args_is_help=True
)
app.add_typer(person_app, name="person")
app.add_typer(code_app, name="code")
app.add_typer(risk_app, name="risk")

Tckn = Annotated[str, typer.Argument(help="The person's T.C. Kimlik No.")]


Env = Annotated[
    str,
    typer.Option(
        "--env", callback=known_env, help="Environment whose data to change: live or test."
    ),
]
At = Annotated[
    datetime | None,
    typer.Option(
        "--at",
        parser=utc_moment,
        metavar="TIME",
        help="When it happened (ISO 8601; UTC if no offset). Default: now.",
    ),
]


def _service() -> HesDataService:
    return operator().hes


@app.command("test-codes")
def list_test_codes(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list of objects (snake_case keys).")
    ] = False,
) -> None:
    """List the test environment's fixture codes by category (the document's empty table)."""
    rows = [{"category": fx.category, "hes_code": fx.code} for fx in hes_fixtures()]
    if as_json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = whole_table("category", "code")
    for row in rows:
        table.add_row(row["category"], row["hes_code"])
    print_whole(table)


@person_app.command("add")
def person_add(
    identity_number: Tckn,
    first_name: Annotated[str, typer.Option("--first-name", help="Given name(s).")],
    last_name: Annotated[str, typer.Option("--last-name", help="Surname.")],
    env: Env = "live",
) -> None:
    """Add a person (or update their names). Names are stored NFC in Turkish upper case."""
    with clear_errors():
        _service().add_person(env, identity_number, first_name, last_name)
    console.print("person saved")


@person_app.command("show")
def person_show(
    identity_number: Tckn,
    env: Annotated[
        str, typer.Option("--env", callback=known_env, help="Environment: live or test.")
    ] = "live",
) -> None:
    """Print a person's record as JSON: names, consent, codes and health events.

    Reading it is logged (saglik audit changes, action read) under your login name."""
    with clear_errors():
        person = _service().person(env, identity_number)
    print_record(asdict(person))


@code_app.command("issue")
def code_issue(
    identity_number: Tckn,
    days: Annotated[int, typer.Option(min=1, max=36500, help="Validity in days.")] = 365,
    no_expiry: Annotated[bool, typer.Option("--no-expiry", help="Never expires.")] = False,
    env: Env = "live",
) -> None:
    """Issue a new HES code to a person and print it."""
    with clear_errors():
        code, expires = _service().issue_code(
            env, identity_number, valid_for=None if no_expiry else timedelta(days=days)
        )
    console.print(f"code [bold]{code}[/] valid until {expires:%Y-%m-%d %H:%M} UTC")


@risk_app.command("open")
def risk_open(
    identity_number: Tckn,
    kind: Annotated[str, typer.Option(help="case (isolation) or contact (quarantine).")] = "case",
    at: At = None,
    env: Env = "live",
) -> None:
    """Open a risk period: the person's codes answer RISKY until it is closed."""
    with clear_errors():
        _service().open_risk(env, identity_number, kind, at)
    console.print("risk period opened")


@risk_app.command("close")
def risk_close(identity_number: Tckn, at: At = None, env: Env = "live") -> None:
    """Close the person's open risk periods."""
    with clear_errors():
        closed = _service().close_risk(env, identity_number, at)
    if not closed:
        fail("the person has no open risk period", code=1)
    console.print(f"{closed} risk period(s) closed")


@app.command()
def vaccinate(
    identity_number: Tckn,
    dose: Annotated[int, typer.Option(help="Dose number (1, 2, …).")],
    vaccine: Annotated[str, typer.Option(help="Vaccine name.")] = "CoronaVac",
    at: At = None,
    env: Env = "live",
) -> None:
    """Record a vaccine dose (two doses make is_vaccinated true)."""
    with clear_errors():
        _service().vaccinate(env, identity_number, dose, vaccine, at)
    console.print("dose recorded")


@app.command()
def infection(identity_number: Tckn, at: At = None, env: Env = "live") -> None:
    """Record a confirmed COVID-19 infection (immune for 6 calendar months)."""
    with clear_errors():
        _service().record_infection(env, identity_number, at)
    console.print("infection recorded")


@app.command()
def pcr(
    identity_number: Tckn,
    negative: Annotated[bool, typer.Option("--negative/--positive", help="The result.")],
    at: At = None,
    env: Env = "live",
) -> None:
    """Record a PCR result by sample time (a negative one counts for 72 hours)."""
    with clear_errors():
        _service().record_pcr(env, identity_number, negative, at)
    console.print("PCR result recorded")


@app.command()
def consent(
    identity_number: Tckn,
    vaccination: Annotated[
        bool, typer.Option("--vaccination/--no-vaccination", help="Share is_vaccinated.")
    ] = False,
    immunity: Annotated[
        bool, typer.Option("--immunity/--no-immunity", help="Share is_immune.")
    ] = False,
    test: Annotated[
        bool, typer.Option("--test/--no-test", help="Share last_negative_test_date.")
    ] = False,
    env: Env = "live",
) -> None:
    """Set what the person shares through plus queries ("HES Kod Ayarları").

    Items not named are not shared."""
    with clear_errors():
        _service().set_consent(
            env, identity_number, vaccination=vaccination, immunity=immunity, test=test
        )
    console.print("consent saved")
