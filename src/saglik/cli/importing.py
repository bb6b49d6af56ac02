"""``saglik import``: bulk import of persons, HES codes, health events and death forms.

The work is ``services/importing.py``; this module only turns options into a call, shows the
progress and the summary, and maps the outcome to the exit status scripts rely on: 0 every row
written, 1 some rows rejected (listed in the rejects file), 2 a usage error (nothing written) or
a store that failed mid-run (what committed stays; the same command completes it).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from saglik.cli.context import (
    change_log,
    clear_errors,
    clock,
    console,
    errors,
    fail,
    known_env,
    migrated_engine,
)
from saglik.services.import_files import ImportFileError, open_source
from saglik.services.import_rows import COLUMNS
from saglik.services.importing import DEFAULT_BATCH, ImportProgress, ImportService, ImportSummary

COMMON = """
Rows are written in batches, each in one transaction, by natural key: running the same file
again changes nothing, and completes a run that was interrupted (even by kill -9: every batch
is whole or absent). A row that cannot be imported is rejected, never a reason to stop: its line
number and the reason (never its values) go to the rejects file, FILE.rejects.csv by default.

Times are ISO 8601 (2026-01-10T14:30:00, 2026-01-10T14:30:00+03:00, …Z); a time without an
offset is Europe/Istanbul local time.

Exit status: 0 every row written; 1 some rows rejected; 2 the file cannot be imported (unreadable,
missing or unknown column: nothing written) or the store failed (run the same file again).
"""

app = typer.Typer(
    help="Bulk import from CSV or JSON Lines (one JSON object a line): persons, HES codes, "
    "health events, death forms. Safe to run again; rejects go to FILE.rejects.csv.",
    no_args_is_help=True,
)


class Format(enum.StrEnum):
    csv = "csv"
    jsonl = "jsonl"


File = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        help="The file to import: CSV with a header line, or JSON Lines.",
        show_default=False,
    ),
]
Env = Annotated[
    str, typer.Option("--env", callback=known_env, help="Environment to import into: live or test.")
]
FormatOption = Annotated[
    Format | None,
    typer.Option(
        "--format",
        help="csv or jsonl. Default: from the extension (.csv; .jsonl or .ndjson).",
        show_default=False,
    ),
]
BatchSize = Annotated[
    int,
    typer.Option(
        "--batch-size",
        min=1,
        help="Rows per transaction (an interrupted run leaves whole batches).",
    ),
]
Rejects = Annotated[
    Path | None,
    typer.Option(
        "--rejects",
        help="Where to write rejected rows (line,reason). Default: FILE.rejects.csv.",
        show_default=False,
    ),
]


class _Bar:
    """A progress bar over the file's bytes, started on the first batch (so a usage error is
    the only thing printed when there is one) and only on a terminal (logs stay clean)."""

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def update(self, at: ImportProgress) -> None:
        if self._progress is None:
            self._progress = Progress(
                TextColumn(f"[bold]{self._kind}"),
                BarColumn(),
                TaskProgressColumn(),
                DownloadColumn(),
                TextColumn("{task.fields[rate]} rows/s"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=errors,
                disable=not errors.is_terminal,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._kind, total=at.total_bytes or 1, rate="-")
        assert self._task is not None
        rate = at.rows_read / at.seconds if at.seconds > 0 else 0.0
        self._progress.update(self._task, completed=at.bytes_read, rate=f"{rate:,.0f}")

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def _show(summary: ImportSummary) -> None:
    table = Table("kind", "env", "read", "written", "rejected", "seconds", "rows/s")
    table.add_row(
        summary.kind,
        summary.env,
        f"{summary.rows_read:,}",
        f"{summary.written:,}",
        f"{summary.rejected:,}",
        f"{summary.seconds:,.1f}",
        f"{summary.rows_per_second:,.0f}",
    )
    console.print(table)
    if summary.rejects_file is not None:
        rows = "row" if summary.rejected == 1 else "rows"
        console.print(
            f"[yellow]{summary.rejected:,} {rows} rejected[/]: line numbers and reasons in "
            f"{escape(str(summary.rejects_file))}",
            soft_wrap=True,
        )


def _import(
    kind: str, path: Path, env: str, fmt: Format | None, batch_size: int, rejects: Path | None
) -> None:
    try:
        source = open_source(path, kind, fmt.value if fmt is not None else None)
    except ImportFileError as exc:
        fail(str(exc))
    bar = _Bar(kind)
    with source, clear_errors():
        service = ImportService(migrated_engine(), clock(), change_log())
        try:
            summary = service.run(
                source, env, batch_size=batch_size, rejects=rejects, progress=bar.update
            )
        except ImportFileError as exc:
            fail(str(exc))
        finally:
            bar.stop()
    _show(summary)
    if summary.rejected:
        raise typer.Exit(1)


PERSONS = """Import persons (HES code holders), keyed by T.C. Kimlik No: new ones are added,
known ones get the file's names and consent.

Columns (CSV header names, or JSON keys; any order):
identity_number (T.C. Kimlik No, check digits verified);
first_name, last_name (stored NFC in Turkish upper case; blank is rejected);
consent_vaccination, consent_immunity, consent_test (optional: true/false, 1/0, yes/no,
evet/hayır; empty = false).
"""

CODES = """Import HES codes, keyed by the code. The person must exist (import persons first); a
code already issued to another person is rejected, never moved.

Columns: code (10 characters A-Z 0-9, no dashes; lower case is upper-cased);
identity_number (the holder); expires_at (optional; empty = no expiry); created_at (optional;
empty = now for a new code, and a known code keeps its own); cancelled_at (optional).
"""

EVENTS = """Import health events. The person must exist (import persons first).

Columns: identity_number; kind (vaccination | infection | pcr | risk); at (when); and per kind:
vaccination: dose (1, 2, …) and vaccine (default CoronaVac), keyed by person and dose;
infection (a confirmed COVID-19 diagnosis): nothing else, keyed by person and time;
pcr: result (negative | positive), keyed by person and sample time;
risk: risk_kind (case = isolation, contact = quarantine) and ended_at (optional, not before at;
empty = still open), keyed by person, risk_kind and start.
A column that does not apply to the row's kind must be empty.
"""

DEATHS = f"""Import ÖBS death forms, keyed by FormNo and ReferansNo: a new form is registered, a
known form whose content differs is corrected (with a history entry, as by saglik obs correct),
a FormNo that belongs to another ReferansNo is rejected. District codes are those of the
district table (the shipped 973, or what saglik refdata import loaded).

JSON Lines: each line is the death form JSON of saglik obs register (see README) plus form_no
and referans_no (required) and registered_at (optional; default now).
CSV: the same fields as columns (an empty cell is an absent field), with the causes in one
column, causes, as KIND:ICD[:INTERVAL] items separated by ';' (1:I21.9:2 saat;4:I25.1).
Required: {", ".join(COLUMNS["deaths"].required)}, and one of identity_number or passport_no.
Optional: {", ".join(COLUMNS["deaths"].optional)}.
"""


def _command(kind: str) -> Callable[..., None]:
    """One command per kind, all with the same options."""

    def command(
        path: File,
        env: Env = "live",
        fmt: FormatOption = None,
        batch_size: BatchSize = DEFAULT_BATCH,
        rejects: Rejects = None,
    ) -> None:
        _import(kind, path, env, fmt, batch_size, rejects)

    return command


for _kind, _help, _short in (
    ("persons", PERSONS, "Persons (code holders), keyed by T.C. Kimlik No."),
    ("codes", CODES, "HES codes, keyed by the code."),
    ("events", EVENTS, "Vaccinations, infections, PCR results, risk periods."),
    ("deaths", DEATHS, "ÖBS death forms, keyed by FormNo and ReferansNo."),
):
    app.command(_kind, help=_help + COMMON, short_help=_short)(_command(_kind))
