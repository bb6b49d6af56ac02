"""``saglik token`` and ``saglik audit`` from the command line."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from saglik.domain.clock import SystemClock
from saglik.services.changes import store_pseudonymizer
from saglik.services.operator_tokens import OperatorTokens
from tests.change_support import change_log
from tests.cli.conftest import Invoke, assert_error


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
