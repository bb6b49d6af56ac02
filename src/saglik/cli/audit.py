"""``saglik audit``: who called what and when, the data subject's "who saw my data", and the
reports made to the Ministry of Interior (or, for the test environment, what would have been)."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape

from saglik.cli.context import (
    change_log,
    clear_errors,
    console,
    migrated_engine,
    operator,
    utc_moment,
)
from saglik.cli.tables import print_whole, whole_table
from saglik.services import moi_outbox
from saglik.services.audit_queries import AuditQueries
from saglik.store.audit_repo import CallRecord
from saglik.store.changes_repo import ChangeRecord
from saglik.store.outbox_repo import DELIVERED, NOT_SENT, Report

app = typer.Typer(
    help=(
        "Read the audit trail: G2G calls, the data subject's view, operator changes, "
        "Ministry of Interior reports."
    ),
    no_args_is_help=True,
)

Since = Annotated[
    datetime | None,
    typer.Option(
        "--since",
        parser=utc_moment,
        metavar="TIME",
        help="From this time on (ISO 8601; UTC if no offset).",
    ),
]
Until = Annotated[
    datetime | None,
    typer.Option(
        "--until",
        parser=utc_moment,
        metavar="TIME",
        help="Before this time (ISO 8601; UTC if no offset).",
    ),
]
Limit = Annotated[int, typer.Option(min=1, max=10_000, help="At most this many rows.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON lines instead of a table.")]


def _queries() -> AuditQueries:
    return operator().audit


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _json_lines(rows: list[Any]) -> None:
    for row in rows:
        print(json.dumps(asdict(row), ensure_ascii=False, default=str))


def _calls_table(calls: list[CallRecord], title: str) -> None:
    table = whole_table(
        "time (UTC)", "env", "institution", "user", "method", "status", "outcome", title=title
    )
    for c in calls:
        table.add_row(
            _when(c.occurred_at),
            c.env,
            escape(c.institution or "-"),
            escape(c.username or "-"),
            c.method,
            str(c.status),
            c.outcome,
        )
    print_whole(table)


def _changes_table(changes: list[ChangeRecord], title: str) -> None:
    table = whole_table("time (UTC)", "actor", "env", "entity", "action", "target", title=title)
    for c in changes:
        table.add_row(
            _when(c.occurred_at),
            escape(c.actor),
            c.env or "-",
            c.entity,
            c.action,
            escape(c.target or "-"),
        )
    print_whole(table)


@app.command("list")
def list_calls(
    institution: Annotated[str | None, typer.Option(help="Only this institution's calls.")] = None,
    method: Annotated[str | None, typer.Option(help="Only calls of this method.")] = None,
    env: Annotated[str | None, typer.Option(help="Only this environment (live or test).")] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    as_json: AsJson = False,
) -> None:
    """List G2G calls, newest first. Rows name no person: subjects are kept as pseudonyms."""
    with clear_errors():
        calls = _queries().calls(
            institution=institution,
            method=method,
            env=env,
            since=since,
            until=until,
            limit=limit,
        )
    if as_json:
        _json_lines(calls)
    else:
        _calls_table(calls, f"{len(calls)} call(s)")


@app.command()
def subject(
    tc: Annotated[str | None, typer.Option("--tc", help="The person's T.C. Kimlik No.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="A HES code.")] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 1000,
    as_json: AsJson = False,
) -> None:
    """Which institutions queried this person (or code), and when; and which operator changes
    touched their data, and which operators read it. Computed through the audit's pseudonyms:
    the clear value is not stored. Looking is logged too, as a read under your login name."""
    with clear_errors():
        view = _queries().subject(
            identity_number=tc, code=code, since=since, until=until, limit=limit
        )
    if as_json:
        print(
            json.dumps(
                {
                    "institutions": view.institutions,
                    "calls": [asdict(c) for c in view.calls],
                    "changes": [asdict(c) for c in view.changes],
                },
                ensure_ascii=False,
                default=str,
            )
        )
        return
    names = ", ".join(view.institutions) or "none"
    console.print(f"queried by: [bold]{escape(names)}[/]")
    _calls_table(view.calls, f"{len(view.calls)} call(s)")
    if tc is not None:
        _changes_table(view.changes, f"{len(view.changes)} operator change(s) and read(s)")


@app.command()
def changes(
    entity: Annotated[
        str | None,
        typer.Option(help="Only this kind: person, hes_code, consent, death_form, service_user…"),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    as_json: AsJson = False,
) -> None:
    """List operator changes (who, what, when), newest first; --json shows before/after."""
    with clear_errors():
        rows = _queries().changes(entity=entity, since=since, until=until, limit=limit)
    if as_json:
        _json_lines(rows)
    else:
        _changes_table(rows, f"{len(rows)} change(s)")


def _report_state(report: Report) -> str:
    if report.status == DELIVERED and report.delivered_at is not None:
        return f"delivered {_when(report.delivered_at)}"
    if report.status == NOT_SENT:
        return f"not sent ({report.last_error})" if report.last_error else "not sent"
    if report.attempts:
        return f"waiting ({report.attempts} failed: {report.last_error})"
    return "waiting"


@app.command("moi-reports")
def moi_reports(
    env: Annotated[
        str | None, typer.Option(help="Only this environment's reports (live or test).")
    ] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only reports in this state: waiting, delivered or not-sent."),
    ] = None,
    since: Since = None,
    until: Until = None,
    limit: Limit = 100,
    as_json: AsJson = False,
) -> None:
    """List risky-visitor reports, newest first: when each was recorded, its environment,
    whether it was delivered, is waiting, or was recorded and not sent (a test report with no
    SAGLIK_MOI_TEST_ENDPOINT), and the report exactly as it is, or would have been, sent. The
    reports hold HES codes in clear: looking is logged, as a read under your login name."""
    with clear_errors():
        engine = migrated_engine()
        reports = moi_outbox.list_reports(
            engine,
            change_log(),
            environment=env,
            status=status,
            since=since,
            until=until,
            limit=limit,
        )
    if as_json:
        _json_lines(reports)
        return
    table = whole_table(
        "recorded (UTC)", "env", "state", "report", title=f"{len(reports)} report(s)"
    )
    for r in reports:
        table.add_row(
            _when(r.created_at), r.environment, escape(_report_state(r)), escape(r.payload)
        )
    print_whole(table)
