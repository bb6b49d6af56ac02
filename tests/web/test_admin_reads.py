"""Operator reads of personal data through the operator API leave the trace a change does: each
read of a person's record or codes, a death form's full record or a data subject's view writes
exactly one ``read`` entry to the change log, under the token, naming the person only by the
audit pseudonym; and the change log's own views list them."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import LiveServer
from tests.web.admin_support import Admin, Token, changes_since, last_change_id, new_tckn, ok
from tests.web.conftest import pseudonymizer
from tests.web.test_admin_hes import add_person, issue
from tests.web.test_admin_obs import at, death_form, register


def one_read(server: LiveServer, mark: int, token: Token, entity: str) -> dict[str, Any]:
    rows = changes_since(server.engine, mark)
    assert len(rows) == 1, rows
    read = rows[0]
    assert (read["entity"], read["action"], read["actor"]) == (entity, "read", token.actor)
    assert (read["before"], read["after"]) == (None, None)
    return read


def nothing_clear(row: dict[str, Any], *values: str) -> None:
    text = json.dumps(row, ensure_ascii=False, default=str)
    for value in values:
        assert value not in text


def test_reading_a_person_is_logged_once_by_pseudonym(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    tckn = add_person(admin, first="Zeynep", last="Aksoy")
    code = issue(admin, tckn)["code"]
    mark = last_change_id(server.engine)
    ok(admin.get("/persons", params={"env": "live", "identity_number": tckn}))
    read = one_read(server, mark, operator_token, "person")
    assert read["env"] == "live"
    assert read["subject_ref"] == pseudonymizer(server).person(tckn)
    assert read["target"] is None
    nothing_clear(read, tckn, code, "ZEYNEP", "AKSOY")


def test_listing_a_persons_codes_is_logged_once_by_pseudonym(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    tckn = add_person(admin)
    code = issue(admin, tckn)["code"]
    mark = last_change_id(server.engine)
    ok(admin.get("/hes-codes", params={"env": "live", "identity_number": tckn}))
    read = one_read(server, mark, operator_token, "hes_code")
    assert read["subject_ref"] == pseudonymizer(server).person(tckn)
    nothing_clear(read, tckn, code)


def test_a_read_that_finds_nobody_is_not_logged(server: LiveServer, admin: Admin) -> None:
    mark = last_change_id(server.engine)
    params = {"env": "live", "identity_number": new_tckn()}
    assert admin.get("/persons", params=params).status_code == 404
    assert changes_since(server.engine, mark) == []


def test_reading_a_death_form_is_logged_once_by_pseudonym(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    form = death_form()
    numbers = register(admin, form)
    mark = last_change_id(server.engine)
    ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    read = one_read(server, mark, operator_token, "death_form")
    assert read["target"] == numbers["form_no"]
    assert read["subject_ref"] == pseudonymizer(server).person(form["identity_number"])
    nothing_clear(read, form["identity_number"], "MEHMET", "YILDIZ", "HASAN")


def test_a_form_moved_to_another_person_is_a_read_of_both(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    """Its history shows the identity number it named before: both persons see the read."""
    form = death_form()
    numbers = register(admin, form)
    moved = death_form(identity_number=death_form()["identity_number"])
    ok(admin.put("/death-forms/{form_no}", moved, **at(numbers)))
    mark = last_change_id(server.engine)
    ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    rows = changes_since(server.engine, mark)
    refs = pseudonymizer(server)
    assert [(r["entity"], r["action"], r["subject_ref"]) for r in rows] == [
        ("death_form", "read", refs.person(moved["identity_number"])),
        ("death_form", "read", refs.person(form["identity_number"])),
    ]


def test_a_foreigners_form_is_logged_by_its_form_number(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    form = death_form(identity_number=None, passport_no="C01X00T98", nationality="DEU")
    numbers = register(admin, form)
    mark = last_change_id(server.engine)
    ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    read = one_read(server, mark, operator_token, "death_form")
    assert (read["target"], read["subject_ref"]) == (numbers["form_no"], None)
    nothing_clear(read, "C01X00T98")


def test_reads_are_listed_by_the_change_log_views(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    tckn = add_person(admin)
    ok(admin.get("/persons", params={"env": "live", "identity_number": tckn}))
    listed = ok(admin.get("/audit/changes", params={"entity": "person", "limit": "1"}))["changes"]
    assert [(c["action"], c["actor"]) for c in listed] == [("read", operator_token.actor)]
    assert listed[0]["subject_ref"] == pseudonymizer(server).person(tckn)

    ok(admin.get("/audit/subject", params={"identity_number": tckn}))
    views = ok(admin.get("/audit/changes", params={"entity": "subject_view", "limit": "1"}))
    assert [(c["action"], c["subject_ref"]) for c in views["changes"]] == [
        ("read", pseudonymizer(server).person(tckn))
    ]
