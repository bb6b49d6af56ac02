"""``saglik token`` and ``saglik audit`` from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from saglik.domain.clock import SystemClock
from saglik.services.changes import store_pseudonymizer
from saglik.services.operator_tokens import OperatorTokens
from saglik.store import accounts_repo
from saglik.store.audit_writer import AuditRecord, write_batch
from tests.change_support import change_log
from tests.cli.conftest import Invoke, Store, assert_error, run_in_terminal


def test_token_create_prints_the_token_once_and_it_works(cli: Invoke, db: Engine) -> None:
    result = cli("token", "create", "ops-alice")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    clock = SystemClock()
    assert OperatorTokens(db, clock, change_log(db, clock)).holder(token) == "ops-alice"
    listed = cli("token", "list")
    assert "ops-alice" in listed.stdout
    assert token not in listed.stdout


def test_token_revoke_and_errors(cli: Invoke) -> None:
    cli("token", "create", "ops-bob")
    assert cli("token", "revoke", "ops-bob").exit_code == 0
    assert_error(cli("token", "revoke", "ops-bob"), "no active token")
    assert_error(cli("token", "create", "two words"), "token name")


def test_audit_changes_show_who_changed_what(cli: Invoke) -> None:
    cli("institution", "add", "Kurum A")
    result = cli("audit", "changes", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["entity"], r["action"], r["target"]) for r in rows] == [
        ("institution", "add", "Kurum A")
    ]
    assert rows[0]["actor"].startswith("cli:")


def test_audit_subject_shows_the_operator_changes_about_a_person(cli: Invoke, db: Engine) -> None:
    tckn = "10000000146"
    cli("hes", "person", "add", tckn, "--first-name", "Ali", "--last-name", "Veli")
    cli("hes", "code", "issue", tckn)
    result = cli("audit", "subject", "--tc", tckn, "--json")
    assert result.exit_code == 0, result.output
    view = json.loads(result.stdout)
    assert view["institutions"] == []
    assert [c["entity"] for c in reversed(view["changes"])] == ["person", "hes_code"]
    ref = store_pseudonymizer(db).person(tckn)
    assert {c["subject_ref"] for c in view["changes"]} == {ref}
    table = cli("audit", "subject", "--tc", tckn)
    assert "queried by: none" in table.stdout


def test_audit_list_filters_and_refuses_unknown_names(cli: Invoke) -> None:
    assert cli("audit", "list").exit_code == 0
    assert_error(cli("audit", "list", "--institution", "Nowhere"), "no institution")
    assert_error(cli("audit", "list", "--method", "nope"), "unknown method")
    assert_error(cli("audit", "subject", "--tc", "12345678901"), "T.C. Kimlik")
    assert_error(cli("audit", "subject"), "exactly one")


LONG_INSTITUTION = "Ankara Büyükşehir Belediyesi Sağlık İşleri Dairesi Başkanlığı Bilgi İşlem"
LONG_USER = "abb-saglik-isleri-dairesi-personel-giris-kontrol-sistemi-01"


def _cells(table: str) -> list[str]:
    """The body cells of a one-row Rich table, each put back together from the lines a narrow
    terminal folded it onto (spaces dropped: a fold at a space loses it)."""
    lines = table.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("┡"))
    bottom = next(i for i, line in enumerate(lines) if line.startswith("└"))
    columns: list[list[str]] = []
    for line in lines[top + 1 : bottom]:
        for i, piece in enumerate(line.split("│")[1:-1]):
            if len(columns) <= i:
                columns.append([])
            columns[i].append(piece.strip())
    return ["".join(pieces).replace(" ", "") for pieces in columns]


def test_audit_list_on_an_80_column_terminal_folds_values_and_never_cuts_them(
    cli: Invoke, db: Engine, store_file: Store, tmp_path: Path
) -> None:
    assert cli("institution", "add", LONG_INSTITUTION).exit_code == 0
    added = cli(
        "user", "add", LONG_USER, "--institution", LONG_INSTITUTION, "--env", "live",
        "--method", "GetOlumByPasaportNoFull",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    with db.connect() as conn:
        user = accounts_repo.find_user(conn, "live", LONG_USER)
    assert user is not None
    write_batch(
        db,
        [
            AuditRecord(
                occurred_at=datetime(2026, 6, 15, 9, 30, 5, tzinfo=UTC),
                env="live",
                service="obs",
                method="GetGuncellenenOlumlerByDate",
                status=500,
                outcome="method-not-granted",
                latency_ms=1.5,
                client_ip="203.0.113.9",
                institution_id=user.institution_id,
                user_id=user.id,
            )
        ],
    )
    shown = run_in_terminal(["audit", "list"], env_url=store_file.url, cwd=tmp_path, columns=80)
    lines = shown.splitlines()
    assert all(len(line) <= 80 for line in lines), shown
    assert "…" not in shown
    assert _cells(shown) == [
        "2026-06-1509:30:05",
        "live",
        LONG_INSTITUTION.replace(" ", ""),
        LONG_USER,
        "GetGuncellenenOlumlerByDate",
        "500",
        "method-not-granted",
    ]
