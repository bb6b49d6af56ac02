"""``saglik hes check``: ask a HES service what it says about codes, one or a whole roster.

Rosters are what institutions actually check (a shift's staff, a day's visitors), so a file is the
main input and one bad line must never cost the others: what is not a code is reported with its
line number and the rest is checked. Each distinct code is sent once, through the bulk methods
(``check-hes-codes``, ``check-hes-codes-plus``), 500 a request, several requests at a time; or,
for a service user granted only a single-code method, one request a code through that method.
"""

from __future__ import annotations

import csv
import enum
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.cells import cell_len
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from saglik.cli.context import console, errors, fail
from saglik.cli.querying import (
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    Output,
    command_help,
    credentials,
    service_errors,
)
from saglik.client import (
    ERROR_EXPIRED,
    ERROR_INVALID,
    ERROR_NOT_FOUND,
    HesClient,
    HesPlusResult,
    HesResult,
    InvalidCode,
    normalize_code,
)
from saglik.client.hes import Many

CODE_COLUMNS = ("hes_code", "code")
"""Header names recognised without --column, in order of preference."""

RESULT_FIELDS = (
    "expiration_date",
    "current_health_status",
    "masked_identity_number",
    "masked_firstname",
    "masked_lastname",
)
PLUS_FIELDS = ("is_vaccinated", "is_immune", "is_test_data_shared", "last_negative_test_date")
"""The result's fields in the order the service answers them (docs/contract.md §4.2)."""


class Method(enum.StrEnum):
    """The methods that answer for codes alone (the visitor check also needs a place)."""

    bulk = "check-hes-codes"
    bulk_plus = "check-hes-codes-plus"
    employee = "check-employee-hes-code"
    hes_code = "check-hes-code"
    plus = "check-hes-code-plus"

    @property
    def is_plus(self) -> bool:
        return self in (Method.bulk_plus, Method.plus)


FOUND = "found"
STATUS_OF_ERROR = {ERROR_NOT_FOUND: "not_found", ERROR_EXPIRED: "expired", ERROR_INVALID: "invalid"}
"""The row status for each errorKey; any other key the service may add reads ``error``."""

CHECK_HELP = command_help(
    """Check HES codes against a HES service (the Ministry's, or a saglik server).

Codes are given as arguments or in a file (--file; - reads standard input): one code a line, or
a CSV with a header line and a hes_code or code column (or the column named by --column; the
delimiter may be , ; or tab). A code may be written with dashes or spaces, in lower case, or as
a scanned HES QR payload (T.C. Kimlik No|CODE: only the code is kept). A line that is not a code
is reported with its line number (never its content) and does not stop the others; blank lines
of a one-code-a-line file are skipped.

Each distinct code is sent once, through check-hes-codes (check-hes-codes-plus with --plus), at
most 500 a request and --concurrency requests at a time; with --method naming a single-code method
(check-employee-hes-code, check-hes-code, check-hes-code-plus), one request a code, for a service
user granted only that method. A file shows a progress bar on a terminal. Results go to standard
output in input order, one row per line or argument: line, code, status (found, expired,
not_found, invalid), error (the service's errorKey) and the fields the service answered, as a
table, CSV or JSON. Counts go to standard error.""",
    ok="every code was found",
    not_found="some codes were not found, expired, or are not codes",
)


@dataclass(frozen=True)
class Entry:
    """One line of the input: the code it holds, or why it holds none."""

    line: int
    code: str | None
    reason: str | None = None


@dataclass(frozen=True)
class Row:
    entry: Entry
    status: str
    error: str | None
    result: HesResult | None


def _entry(line: int, text: str) -> Entry:
    try:
        return Entry(line, normalize_code(text))
    except InvalidCode as exc:
        # The message never repeats the input (a QR payload carries a T.C. Kimlik No).
        return Entry(line, None, exc.message)


def _read(path: Path) -> str:
    try:
        if str(path) == "-":
            return sys.stdin.read()
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path}: not UTF-8 text", EXIT_USAGE)
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or type(exc).__name__}", EXIT_USAGE)


def _delimiter(header: str) -> str | None:
    return next((d for d in (",", ";", "\t") if d in header), None)


def entries_from_text(text: str, name: str, column: str | None) -> list[Entry]:
    """The entries of a file: one code a line, or a CSV whose header names the code column."""
    text = text.removeprefix("\ufeff")
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        if column is not None:
            fail(f"{name}: no header line (--column needs one)", EXIT_USAGE)
        return []
    delimiter = _delimiter(lines[first])
    header = next(csv.reader([lines[first]], delimiter=delimiter or ","))
    names = [cell.strip().lower() for cell in header]
    if column is not None:
        wanted = column.strip().lower()
        if wanted not in names:
            fail(f"{name}: no column {column!r} in the header line", EXIT_USAGE)
    else:
        wanted = next((c for c in CODE_COLUMNS if c in names), "")
        if not wanted:
            if delimiter is not None:
                fail(
                    f"{name}: no hes_code or code column in the header line; name the column "
                    "with --column",
                    EXIT_USAGE,
                )
            return [_entry(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    index = names.index(wanted)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter or ",")
    entries: list[Entry] = []
    seen_header = False
    try:
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if not seen_header:
                seen_header = True
                continue
            value = row[index] if index < len(row) else ""
            if value.strip():
                entries.append(_entry(reader.line_num, value))
            else:
                entries.append(Entry(reader.line_num, None, f"no value in column {wanted}"))
    except csv.Error as exc:
        fail(f"{name}: not a readable CSV file at line {reader.line_num}: {exc}", EXIT_USAGE)
    return entries


def _utc_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def wire_fields(result: HesResult) -> dict[str, Any]:
    """The result as the service wrote it (its field names, order and time formats)."""
    fields: dict[str, Any] = {
        "expiration_date": _utc_seconds(result.expiration_date),
        "current_health_status": str(result.current_health_status.value),
        "masked_identity_number": result.masked_identity_number,
        "masked_firstname": result.masked_firstname,
        "masked_lastname": result.masked_lastname,
    }
    if isinstance(result, HesPlusResult):
        negative = result.last_negative_test_date
        fields["is_vaccinated"] = result.is_vaccinated
        fields["is_immune"] = result.is_immune
        fields["is_test_data_shared"] = result.is_test_data_shared
        fields["last_negative_test_date"] = _utc_millis(negative) if negative else None
    return fields


class _Bar:
    """A progress bar over the distinct codes, on standard error and only on a terminal (a
    pipe or a log file gets the counts line alone)."""

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def update(self, done: int, total: int) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn("[bold]checking"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("codes"),
                TimeRemainingColumn(),
                console=errors,
                disable=not errors.is_terminal,
            )
            self._progress.start()
            self._task = self._progress.add_task("codes", total=total or 1)
        assert self._task is not None
        self._progress.update(self._task, completed=done, total=total or 1)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _rows(
    entries: Sequence[Entry], success: Mapping[str, HesResult], failure: Mapping[str, str]
) -> list[Row]:
    rows = []
    for entry in entries:
        if entry.code is None:
            rows.append(Row(entry, "invalid", ERROR_INVALID, None))
        elif entry.code in success:
            rows.append(Row(entry, FOUND, None, success[entry.code]))
        else:
            key = failure.get(entry.code, ERROR_NOT_FOUND)
            rows.append(Row(entry, STATUS_OF_ERROR.get(key, "error"), key, None))
    return rows


def _flat(row: Row, fields: Sequence[str]) -> dict[str, Any]:
    values = wire_fields(row.result) if row.result is not None else {}
    return {
        "line": row.entry.line,
        "code": row.entry.code,
        "status": row.status,
        "error": row.error,
        **{name: values.get(name) for name in fields},
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _print_csv(rows: Sequence[Row], fields: Sequence[str]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(["line", "code", "status", "error", *fields])
    for row in rows:
        writer.writerow([_cell(v) for v in _flat(row, fields).values()])


def _print_json(rows: Sequence[Row]) -> None:
    items: list[dict[str, Any]] = []
    for row in rows:
        item: dict[str, Any] = {
            "line": row.entry.line,
            "code": row.entry.code,
            "status": row.status,
        }
        if row.result is not None:
            item["result"] = wire_fields(row.result)
        else:
            item["error"] = row.error
            if row.entry.reason is not None:
                item["reason"] = row.entry.reason
        items.append(item)
    print(json.dumps(items, ensure_ascii=False, indent=2))


STATUS_STYLE = {FOUND: "green", "expired": "yellow"}
HEADINGS = {
    "line": "#",
    "expiration_date": "expires (UTC)",
    "current_health_status": "health",
    "masked_identity_number": "T.C. no",
    "masked_firstname": "first name",
    "masked_lastname": "last name",
    "is_vaccinated": "vaccinated",
    "is_immune": "immune",
    "is_test_data_shared": "shared",
    "last_negative_test_date": "negative test (UTC)",
}
WHOLE = {
    "line",
    "code",
    "status",
    "expiration_date",
    "current_health_status",
    "masked_identity_number",
    "last_negative_test_date",
}
"""Columns kept on one line while others can wrap (names, headings)."""


def _widths(rows: Sequence[Row], fields: Sequence[str]) -> dict[str, int]:
    """Each column's narrowest width without cutting a word: the whole value for the WHOLE
    columns, the longest word for the others (names and headings wrap between words)."""
    flats = [_flat(row, fields) for row in rows]
    widths = {}
    for name in ("line", "code", "status", *fields):
        texts = [HEADINGS.get(name, name), *(_cell(flat[name]) for flat in flats)]
        if name in WHOLE:
            widths[name] = max(cell_len(text) for text in texts)
        else:
            widths[name] = max(cell_len(word) for text in texts for word in text.split() or [""])
    return widths


def _status(row: Row) -> Text:
    return Text(row.status.replace("_", " "), style=STATUS_STYLE.get(row.status, "red"))


def _print_table(rows: Sequence[Row], fields: Sequence[str]) -> None:
    # Compact; codes, times and masks are never cut (a code or a time cut short is worse than
    # no table), names and headings wrap between words. CSV and JSON are for programs.
    widths = _widths(rows, fields)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0), show_edge=False)
    for name, width in widths.items():
        table.add_column(HEADINGS.get(name, name), min_width=width, no_wrap=name in WHOLE)
    for row in rows:
        flat = _flat(row, fields)
        table.add_row(
            str(row.entry.line),
            Text(row.entry.code or ""),
            _status(row),
            *(Text(_cell(flat[f])) for f in fields),
        )
    # Rich drops whole columns when the unbreakable ones do not fit: a terminal too narrow for
    # the table (--plus on 80 columns) gets one block per line instead, every value whole.
    if sum(widths.values()) + len(widths) - 1 <= console.width:
        console.print(table)
        return
    blocks = Table.grid(padding=(0, 2))
    for row in rows:
        flat = _flat(row, fields)
        blocks.add_row(f"line {row.entry.line}", Text(row.entry.code or ""), _status(row))
        for name in fields:
            if flat[name] is not None:
                blocks.add_row("", HEADINGS[name], Text(_cell(flat[name])))
    console.print(blocks)


def _summary(rows: Sequence[Row], noun: str) -> None:
    counts = Counter(row.status for row in rows)
    parts = [f"{counts[FOUND]} found"]
    parts += [f"{counts[s]} {s.replace('_', ' ')}" for s in STATUS_OF_ERROR.values() if counts[s]]
    if counts["error"]:
        parts.append(f"{counts['error']} other error")
    plural = "" if len(rows) == 1 else "s"
    errors.print(f"{len(rows)} {noun}{plural}: {', '.join(parts)}", highlight=False, soft_wrap=True)


Answers = tuple[Mapping[str, HesResult], Mapping[str, str]]
"""(code → result, code → errorKey), keyed by the normalised code."""


def _ask(
    client: HesClient,
    method: Method,
    codes: Sequence[str],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
) -> Answers:
    single = None if method in (Method.bulk, Method.bulk_plus) else method.value
    options: Many = {"concurrency": concurrency, "progress": progress, "single": single}
    if method.is_plus:
        plus = client.check_many(codes, plus=True, **options)
        return plus.success, plus.failure
    plain = client.check_many(codes, **options)
    return plain.success, plain.failure


def check(
    codes: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="CODE", help="Codes to check (XXXX-XXXX-XX, XXXXXXXXXX or a QR payload)."
        ),
    ] = None,
    plus: Annotated[
        bool,
        typer.Option(
            "--plus",
            help="Ask check-hes-codes-plus: vaccination, immunity and negative test as shared.",
        ),
    ] = False,
    method: Annotated[
        Method | None,
        typer.Option(
            "--method",
            help="The method to ask (default: check-hes-codes, or check-hes-codes-plus with "
            "--plus). A single-code method sends one request a code.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            "-f",
            metavar="FILE",
            dir_okay=False,
            help="Read the codes from FILE (one a line, or CSV with a header); - for stdin.",
            show_default=False,
        ),
    ] = None,
    column: Annotated[
        str | None,
        typer.Option(
            "--column",
            help="The CSV column holding the codes (default: hes_code, else code).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[
        Output, typer.Option("--output", "-o", help="table, csv or json (to standard output).")
    ] = Output.table,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1, max=16, help="Requests in flight at once (a bulk request takes 500 codes)."
        ),
    ] = 4,
) -> None:
    if file is not None and codes:
        fail("give codes as arguments or with --file, not both", EXIT_USAGE)
    if column is not None and file is None:
        fail("--column applies to a CSV file given with --file", EXIT_USAGE)
    if method is None:
        method = Method.bulk_plus if plus else Method.bulk
    elif plus and not method.is_plus:
        fail(f"--plus asks a plus method, not {method.value}", EXIT_USAGE)
    if file is not None:
        entries = entries_from_text(_read(file), str(file), column)
    elif codes:
        entries = [_entry(n, text) for n, text in enumerate(codes, 1)]
    else:
        fail("no codes: give CODE arguments or --file FILE", EXIT_USAGE)
    if not entries:
        fail(f"{file}: no codes in it", EXIT_USAGE)
    for entry in entries:
        if entry.reason is not None:
            errors.print(
                f"[yellow]line {entry.line}:[/] {escape(entry.reason)}",
                highlight=False,
                soft_wrap=True,
            )
    creds = credentials()
    valid = [entry.code for entry in entries if entry.code is not None]
    bar = _Bar()
    with service_errors(), HesClient.from_credentials(creds) as client:
        try:
            progress = bar.update if file is not None and valid else None
            success, failure = _ask(client, method, valid, concurrency, progress)
        finally:
            bar.stop()
    rows = _rows(entries, success, failure)
    fields = (*RESULT_FIELDS, *PLUS_FIELDS) if method.is_plus else RESULT_FIELDS
    if output is Output.csv:
        _print_csv(rows, fields)
    elif output is Output.json:
        _print_json(rows)
    else:
        _print_table(rows, fields)
    _summary(rows, "line" if file is not None else "code")
    if any(row.status != FOUND for row in rows):
        raise typer.Exit(EXIT_NOT_FOUND)


def register(app: typer.Typer) -> None:
    """Adds ``check`` to the ``saglik hes`` group."""
    app.command("check", help=CHECK_HELP, short_help="Check HES codes against a HES service.")(
        check
    )
