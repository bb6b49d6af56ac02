"""``saglik obs deaths|lookup|death-date``: ask an ÖBS service about deaths.

What is printed is what the service answered, with the wire's own names (``FormNo``,
``OlumTarihi``…) and its own time format (Europe/Istanbul local time without an offset), so the
output can be compared with the service's documentation and with a raw answer line by line.
"""

from __future__ import annotations

import csv
import enum
import json
import re
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from saglik.cli.context import console, errors, fail
from saglik.cli.querying import (
    EXIT_USAGE,
    Output,
    RecordOutput,
    command_help,
    credentials,
    service_errors,
)
from saglik.client import ISTANBUL, FormRef, ObsBasic, ObsClient

ANSWERED = "the service answered (a day without forms is an empty list)"
NOT_FOUND = (
    "no matching record (also what a record outside the user's scope reads like), or the service "
    "refused the parameters (its message is shown)"
)

DEATHS_HELP = command_help(
    """List the death forms of one day (FormNo and ReferansNo): GetTumOlumlerByDate
(registered that day), with --forensic GetAdliFormlarByDate (forensic cases only), with --updated
GetGuncellenenOlumlerByDate (corrected, approved or returned that day). --il keeps the forms
whose place of death or residence is that province (plate code 1-81). Look a form up with
saglik obs lookup --form FormNo --referans ReferansNo.""",
    ANSWERED,
    NOT_FOUND,
)

LOOKUP_HELP = command_help(
    """Look one death record up, in one of three ways: by T.C. Kimlik No with the
person's first name, last name and birth date (GetOlumByTcKimlikNo…); by form number and
reference number (GetOlumByFormNo…); or, for a foreigner, by passport number with first and last
name (GetOlumByPasaportNo…). Every field given must match the record; names match in any casing
(Turkish rules). --full asks the …Full method: the cause-of-death chain (ICD-10), autopsy and
injury time. The record is printed with the service's field names, as a field/value table or
as JSON.""",
    "the record was found",
    NOT_FOUND,
)

DEATH_DATE_HELP = command_help(
    """Print the date and time of death of a T.C. citizen
(GetOlumTarihiByTcKimlikNo), as the service writes it: Europe/Istanbul local time,
YYYY-MM-DDTHH:MM:SS. The identity number's check digits are judged by the service.""",
    "the death was found",
    NOT_FOUND,
)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _day(value: str, option: str) -> date:
    """A calendar day as YYYY-MM-DD; anything else is a usage error before any request."""
    try:
        if _DAY.fullmatch(value.strip()) is None:
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        fail(f"{option} must be a date written YYYY-MM-DD", EXIT_USAGE)


def wire_time(moment: datetime) -> str:
    """ÖBS times: Europe/Istanbul local time without an offset, to the second."""
    return moment.astimezone(ISTANBUL).strftime("%Y-%m-%dT%H:%M:%S")


def _wire_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return wire_time(value)
    if isinstance(value, dict):
        return {key: _wire_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wire_value(item) for item in value]
    if isinstance(value, enum.IntEnum):
        return int(value)
    return value


def wire_record(record: ObsBasic) -> dict[str, Any]:
    """The record as the service wrote it: PascalCase names in the DTO's order."""
    fields: dict[str, Any] = _wire_value(record.model_dump(by_alias=True))
    return fields


def wire_form(form: FormRef) -> dict[str, str]:
    """An ``ObsFormListDto`` as the service wrote it."""
    return {"FormNo": form.form_no, "ReferansNo": form.referans_no}


def _client() -> ObsClient:
    return ObsClient.from_credentials(credentials())


def _dumps(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


def deaths(
    day: Annotated[
        str, typer.Option("--date", metavar="YYYY-MM-DD", help="The day (Istanbul calendar).")
    ],
    il: Annotated[
        int | None,
        typer.Option("--il", min=1, max=81, help="Province plate code (1-81).", show_default=False),
    ] = None,
    forensic: Annotated[
        bool, typer.Option("--forensic", help="Forensic cases only (GetAdliFormlarByDate).")
    ] = False,
    updated: Annotated[
        bool,
        typer.Option("--updated", help="Forms changed that day (GetGuncellenenOlumlerByDate)."),
    ] = False,
    output: Annotated[
        Output, typer.Option("--output", "-o", help="table, csv or json (to standard output).")
    ] = Output.table,
) -> None:
    if forensic and updated:
        fail("--forensic and --updated are two different lists: give one", EXIT_USAGE)
    when = _day(day, "--date")
    with service_errors(), _client() as client:
        if forensic:
            forms = client.forensic_by_date(when, il)
        elif updated:
            forms = client.updated_by_date(when, il)
        else:
            forms = client.deaths_by_date(when, il)
    rows = [wire_form(form) for form in forms]
    if output is Output.json:
        _dumps(rows)
    elif output is Output.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["FormNo", "ReferansNo"])
        writer.writerows([row["FormNo"], row["ReferansNo"]] for row in rows)
    else:
        table = Table("FormNo", "ReferansNo")
        for row in rows:
            table.add_row(Text(row["FormNo"]), Text(row["ReferansNo"]))
        console.print(table)
    kind = "forensic form" if forensic else "updated form" if updated else "form"
    errors.print(f"{len(rows)} {kind}{'' if len(rows) == 1 else 's'}", highlight=False)


Lookup = Callable[[ObsClient], ObsBasic]


def _require(
    way: str, present: Mapping[str, str | None], absent: Mapping[str, str | None]
) -> list[str]:
    """The values ``way`` needs, in order; a usage error names every one missing, or given but
    meaningless for this way (silently ignoring it would look up something else than asked)."""
    missing = [name for name, value in present.items() if value is None]
    if missing:
        fail(f"{way} needs {', '.join(missing)} as well", EXIT_USAGE)
    extra = [name for name, value in absent.items() if value is not None]
    if extra:
        fail(f"{', '.join(extra)} does not apply to {way}", EXIT_USAGE)
    return [value for value in present.values() if value is not None]


def _lookup(
    tc: str | None,
    form: str | None,
    referans: str | None,
    passport: str | None,
    first_name: str | None,
    last_name: str | None,
    birth_date: str | None,
    full: bool,
) -> Lookup:
    """The one lookup the options describe, or a usage error naming what is missing or extra."""
    ways = (("--tc", tc), ("--form", form), ("--passport", passport))
    given = [(name, value) for name, value in ways if value is not None]
    if len(given) != 1:
        fail("give one of --tc, --form or --passport", EXIT_USAGE)
    (way, key), names = given[0], {"--first-name": first_name, "--last-name": last_name}
    if way == "--tc":
        first, last, birth = _require(
            way, {**names, "--birth-date": birth_date}, {"--referans": referans}
        )
        born = _day(birth, "--birth-date")
        if full:
            return lambda c: c.by_tc_full(key, first, last, born)
        return lambda c: c.by_tc_basic(key, first, last, born)
    if way == "--form":
        (ref,) = _require(way, {"--referans": referans}, {**names, "--birth-date": birth_date})
        if full:
            return lambda c: c.by_form_full(key, ref)
        return lambda c: c.by_form_basic(key, ref)
    first, last = _require(way, names, {"--referans": referans, "--birth-date": birth_date})
    if full:
        return lambda c: c.by_passport_full(key, first, last)
    return lambda c: c.by_passport_basic(key, first, last)


def _cell(value: Any) -> Text:
    if value is None:
        return Text("")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    return Text(str(value))


def _print_record(fields: dict[str, Any]) -> None:
    table = Table("field", "value")
    causes = fields.get("OlumNedenleri")
    for name, value in fields.items():
        if name != "OlumNedenleri":
            table.add_row(name, _cell(value))
    console.print(table)
    if isinstance(causes, list):
        columns = ("Sira", "OlumNedeniTuruId", "OlumNedeniTuru", "IcdKodu", "IcdAdi", "Sure")
        chain = Table(*columns, title="OlumNedenleri")
        for cause in causes:
            chain.add_row(*(_cell(cause.get(column)) for column in columns))
        console.print(chain)


def lookup(
    tc: Annotated[
        str | None, typer.Option("--tc", help="T.C. Kimlik No.", show_default=False)
    ] = None,
    form: Annotated[
        str | None, typer.Option("--form", help="Form number (FormNo).", show_default=False)
    ] = None,
    referans: Annotated[
        str | None,
        typer.Option("--referans", help="Reference number (ReferansNo).", show_default=False),
    ] = None,
    passport: Annotated[
        str | None, typer.Option("--passport", help="Passport number.", show_default=False)
    ] = None,
    first_name: Annotated[
        str | None, typer.Option("--first-name", help="Given name(s) (Adi).", show_default=False)
    ] = None,
    last_name: Annotated[
        str | None, typer.Option("--last-name", help="Surname (Soyadi).", show_default=False)
    ] = None,
    birth_date: Annotated[
        str | None,
        typer.Option(
            "--birth-date",
            metavar="YYYY-MM-DD",
            help="Birth date (DogumTarihi), with --tc.",
            show_default=False,
        ),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="The …Full method: causes, autopsy, injury time.")
    ] = False,
    output: Annotated[
        RecordOutput, typer.Option("--output", "-o", help="table or json (to standard output).")
    ] = RecordOutput.table,
) -> None:
    query = _lookup(tc, form, referans, passport, first_name, last_name, birth_date, full)
    with service_errors(), _client() as client:
        record = query(client)
    fields = wire_record(record)
    if output is RecordOutput.json:
        _dumps(fields)
    else:
        _print_record(fields)


def death_date(
    tc: Annotated[str, typer.Option("--tc", help="T.C. Kimlik No.", show_default=False)],
) -> None:
    with service_errors(), _client() as client:
        moment = client.death_date(tc)
    print(wire_time(moment))


def register(app: typer.Typer) -> None:
    """Adds the query commands to the ``saglik obs`` group."""
    app.command(
        "deaths", help=DEATHS_HELP, short_help="Death forms of one day (FormNo, ReferansNo)."
    )(deaths)
    app.command(
        "lookup", help=LOOKUP_HELP, short_help="One death record by T.C., form or passport."
    )(lookup)
    app.command(
        "death-date",
        help=DEATH_DATE_HELP,
        short_help="The date and time of death of a T.C. citizen.",
    )(death_date)
