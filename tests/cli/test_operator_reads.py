"""Operator reads of personal data from the command line (``saglik hes person show``, ``saglik
obs show``, ``saglik audit subject``) each write exactly one ``read`` entry to the change log,
under ``cli:<login>``, naming the person only by the audit pseudonym; ``saglik audit changes``
lists them."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from saglik.services.changes import store_pseudonymizer
from saglik.store.schema import operator_changes
from tests.cli.conftest import Invoke, assert_error
from tests.cli.test_obs_cli import form_file, register

TCKN = "10000000146"
ACTOR = f"cli:{getpass.getuser()}"


def last_id(db: Engine) -> int:
    with db.connect() as conn:
        return int(
            conn.execute(select(func.coalesce(func.max(operator_changes.c.id), 0))).scalar_one()
        )


def one_read(db: Engine, mark: int, entity: str) -> dict[str, Any]:
    with db.connect() as conn:
        rows = [
            dict(row._mapping)
            for row in conn.execute(select(operator_changes).where(operator_changes.c.id > mark))
        ]
    assert len(rows) == 1, rows
    read = rows[0]
    assert (read["entity"], read["action"], read["actor"]) == (entity, "read", ACTOR)
    return read


def nothing_clear(row: dict[str, Any], *values: str) -> None:
    text = json.dumps(row, ensure_ascii=False, default=str)
    for value in values:
        assert value not in text


def test_person_show_prints_the_record_and_logs_one_read(cli: Invoke, db: Engine) -> None:
    cli("hes", "person", "add", TCKN, "--first-name", "Ali Rıza", "--last-name", "Veli")
    issued = cli("hes", "code", "issue", TCKN).stdout.split()[1]
    mark = last_id(db)
    shown = cli("hes", "person", "show", TCKN)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert (record["identity_number"], record["first_name"]) == (TCKN, "ALİ RIZA")
    assert [c["code"] for c in record["codes"]] == [issued]
    assert record["codes"][0]["expires_at"].endswith("+00:00")
    read = one_read(db, mark, "person")
    assert (read["env"], read["subject_ref"]) == ("live", store_pseudonymizer(db).person(TCKN))
    nothing_clear(read, TCKN, issued, "ALİ", "VELİ")


def test_person_show_of_nobody_is_one_red_line_and_no_read(cli: Invoke, db: Engine) -> None:
    cli("institution", "add", "Kurum")  # a migrated store with a key
    mark = last_id(db)
    assert_error(cli("hes", "person", "show", TCKN, "--env", "test"), "no person")
    assert last_id(db) == mark


def test_obs_show_prints_the_form_and_logs_one_read(
    cli: Invoke, db: Engine, tmp_path: Path
) -> None:
    assert cli("refdata", "import").exit_code == 0
    form_no, referans = register(cli, form_file(tmp_path, identity_number=TCKN))
    mark = last_id(db)
    shown = cli("obs", "show", form_no, "--referans", referans)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert (record["form_no"], record["status"]) == (form_no, "registered")
    assert record["form"]["identity_number"] == TCKN
    assert [h["action"] for h in record["history"]] == ["registered"]
    read = one_read(db, mark, "death_form")
    assert read["target"] == form_no
    assert read["subject_ref"] == store_pseudonymizer(db).person(TCKN)
    nothing_clear(read, TCKN, record["form"]["first_name"])


def test_the_subject_view_is_logged_once_and_listed_as_a_read(cli: Invoke, db: Engine) -> None:
    cli("hes", "person", "add", TCKN, "--first-name", "Ali", "--last-name", "Veli")
    mark = last_id(db)
    assert cli("audit", "subject", "--tc", TCKN).exit_code == 0
    read = one_read(db, mark, "subject_view")
    assert read["subject_ref"] == store_pseudonymizer(db).person(TCKN)
    nothing_clear(read, TCKN)

    listed = cli("audit", "changes", "--json", "--limit", "1")
    (latest,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (latest["entity"], latest["action"], latest["actor"]) == ("subject_view", "read", ACTOR)
    again = json.loads(cli("audit", "subject", "--tc", TCKN, "--json").stdout)
    assert [(c["entity"], c["action"]) for c in again["changes"]] == [
        ("subject_view", "read"),
        ("person", "add"),
    ]
