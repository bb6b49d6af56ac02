"""The death registry through the operator API: register, read back, correct, approve and return,
each answered as documented, each change in the change log under the token's name (corrections
with before/after), and each visible on the ÖBS G2G methods."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.web.admin_support import (
    Admin,
    Token,
    changes_since,
    field_errors,
    last_change_id,
    new_tckn,
    ok,
    one_change,
    problem,
)
from tests.web.conftest import Users


def death_form(**changes: Any) -> dict[str, Any]:
    form = {
        "identity_number": new_tckn(),
        "first_name": "Mehmet Emin",
        "last_name": "Yıldız",
        "father_name": "Hasan",
        "birth_date": "1941-05-02",
        "sex": 1,
        "died_at": "2026-06-14T06:40:00",
        "place_of_death_type": 1,
        "death_province": 6,
        "death_district": 1231,
        "residence_province": 6,
        "residence_district": 1231,
        "manner": 1,
        "autopsy": False,
        "causes": [
            {"kind": 1, "icd_code": "I21.9", "interval": "2 saat"},
            {"kind": 4, "icd_code": "i251"},
        ],
    }
    form.update(changes)
    return form


def register(admin: Admin, form: dict[str, Any], env: str = "live") -> dict[str, str]:
    numbers: dict[str, str] = ok(admin.post("/death-forms", form, params={"env": env}), 201)
    return numbers


def at(numbers: dict[str, str], env: str = "live") -> dict[str, Any]:
    """The path and query that name a form."""
    return {
        "path": {"form_no": numbers["form_no"]},
        "params": {"env": env, "referans_no": numbers["referans_no"]},
    }


def test_register_and_read_back(server: LiveServer, admin: Admin, operator_token: Token) -> None:
    form = death_form()
    mark = last_change_id(server.engine)
    numbers = register(admin, form)
    assert numbers["form_no"].isdigit()
    assert len(numbers["form_no"]) == 10
    assert len(numbers["referans_no"]) == 8
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"], change["target"]) == (
        "death_form",
        "register",
        numbers["form_no"],
    )
    assert change["subject_ref"] is not None
    text = json.dumps(change, ensure_ascii=False, default=str)
    for personal in (form["identity_number"], "MEHMET", "YILDIZ", "HASAN"):
        assert personal not in text

    stored = ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    assert stored["status"] == "registered"
    assert stored["registered_at"] == "2026-06-15T09:00:00+00:00"
    assert stored["updated_at"] is None
    assert [h["action"] for h in stored["history"]] == ["registered"]
    assert stored["form"] == {
        **form,
        "first_name": "MEHMET EMİN",
        "last_name": "YILDIZ",
        "father_name": "HASAN",
        "passport_no": None,
        "nationality": "TR",
        "mother_name": None,
        "birth_place": None,
        "died_at": "2026-06-14T06:40:00+03:00",
        "maternal_status": None,
        "injured_at": None,
        "causes": [
            {"kind": 1, "icd_code": "I21.9", "interval": "2 saat"},
            {"kind": 4, "icd_code": "I25.1", "interval": None},
        ],
    }


def test_a_registered_form_is_on_the_obs_gateway(
    admin: Admin, users: Users, server: LiveServer
) -> None:
    form = death_form(died_at="2026-06-14T23:30:00+00:00")
    register(admin, form)
    with server.client() as client:
        response = client.get(
            "/services/g2g/saglik/OBS/GetOlumTarihiByTcKimlikNo",
            params={"TcKimlikNo": form["identity_number"]},
            auth=users.live.auth,
        )
    assert response.json() == {"State": 1, "Message": None, "Result": "2026-06-15T02:30:00"}


def test_a_foreigner_is_registered_by_passport(admin: Admin) -> None:
    form = death_form(
        identity_number=None, passport_no="c01 x00t99", nationality="DEU", first_name="Anna"
    )
    stored = ok(admin.get("/death-forms/{form_no}", **at(register(admin, form))))
    assert stored["form"]["passport_no"] == "C01X00T99"
    assert stored["form"]["first_name"] == "ANNA"


def test_correct_a_form(server: LiveServer, admin: Admin, operator_token: Token) -> None:
    form = death_form()
    numbers = register(admin, form)
    mark = last_change_id(server.engine)
    corrected = death_form(
        identity_number=form["identity_number"], first_name="Mehmet", manner=5, autopsy=True
    )
    changes = ok(admin.put("/death-forms/{form_no}", corrected, **at(numbers)))["changes"]
    assert changes == {
        "first_name": ["MEHMET EMİN", "MEHMET"],
        "manner": [1, 5],
        "autopsy": [False, True],
    }
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"]) == ("death_form", "correct")
    assert change["before"] == {"first_name": "(personal)", "manner": 1, "autopsy": False}
    assert change["after"] == {"first_name": "(personal)", "manner": 5, "autopsy": True}
    stored = ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    assert [h["action"] for h in stored["history"]] == ["registered", "corrected"]
    assert stored["history"][1]["changes"]["manner"] == [1, 5]
    assert stored["updated_at"] == "2026-06-15T09:00:00+00:00"


def test_a_stored_form_can_be_put_back_unchanged(admin: Admin) -> None:
    numbers = register(admin, death_form())
    stored = ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    assert ok(admin.put("/death-forms/{form_no}", stored["form"], **at(numbers))) == {"changes": {}}


@pytest.mark.parametrize(("action", "status"), [("approve", "approved"), ("return", "returned")])
def test_approve_and_return(
    server: LiveServer, admin: Admin, operator_token: Token, action: str, status: str
) -> None:
    numbers = register(admin, death_form())
    mark = last_change_id(server.engine)
    answer = ok(admin.post(f"/death-forms/{{form_no}}/{action}", **at(numbers)))
    assert answer == {"form_no": numbers["form_no"], "status": status}
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"]) == ("death_form", status)
    assert (change["before"], change["after"]) == ({"status": "registered"}, {"status": status})
    stored = ok(admin.get("/death-forms/{form_no}", **at(numbers)))
    assert stored["status"] == status
    assert [h["action"] for h in stored["history"]] == ["registered", status]


def test_the_reference_number_is_case_insensitive(admin: Admin) -> None:
    numbers = register(admin, death_form())
    lower = {**numbers, "referans_no": numbers["referans_no"].lower()}
    assert (
        ok(admin.get("/death-forms/{form_no}", **at(lower)))["referans_no"]
        == numbers["referans_no"]
    )


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "which",
    ["unknown form", "wrong reference", "other environment", "not a form number"],
)
def test_a_form_that_does_not_exist_is_404_everywhere(
    server: LiveServer, admin: Admin, which: str
) -> None:
    numbers = register(admin, death_form())
    env = "live"
    if which == "unknown form":
        numbers = {**numbers, "form_no": "1" + numbers["form_no"]}
    elif which == "wrong reference":
        numbers = {**numbers, "referans_no": "AAAA2222"}
    elif which == "other environment":
        env = "test"
    else:
        numbers = {**numbers, "form_no": "12AB"}
    mark = last_change_id(server.engine)
    named = at(numbers, env)
    problem(admin.get("/death-forms/{form_no}", **named), 404)
    problem(admin.put("/death-forms/{form_no}", death_form(), **named), 404)
    problem(admin.post("/death-forms/{form_no}/approve", **named), 404)
    problem(admin.post("/death-forms/{form_no}/return", **named), 404)
    assert changes_since(server.engine, mark) == []


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({}, {"env", "referans_no"}),
        ({"env": "live"}, {"referans_no"}),
        ({"env": "prod", "referans_no": "AAAA2222"}, {"env"}),
        ({"env": "live", "referans_no": "AAAA-2222"}, {"referans_no"}),
    ],
)
def test_a_form_needs_its_environment_and_reference(
    admin: Admin, params: dict[str, str], bad: set[str]
) -> None:
    path = {"form_no": "1234567890"}
    assert field_errors(admin.get("/death-forms/{form_no}", path=path, params=params)) == bad
    assert (
        field_errors(admin.post("/death-forms/{form_no}/approve", path=path, params=params)) == bad
    )


def test_registering_needs_the_environment(admin: Admin) -> None:
    assert field_errors(admin.post("/death-forms", death_form())) == {"env"}


@pytest.mark.parametrize(
    ("changes", "bad"),
    [
        ({"sex": 7}, {"sex"}),
        ({"sex": "1"}, {"sex"}),
        ({"causes": []}, {"causes"}),
        ({"causes": [{"kind": 1, "icd_code": "XYZ99"}]}, {"causes[0].icd_code"}),
        ({"died_at": "1700000000"}, {"died_at"}),
        ({"died_at": "0001-01-01T00:00:00"}, {"died_at"}),
        ({"injured_at": "9999-12-31T23:59:59-05:00"}, {"injured_at"}),
        ({"death_district": 10**30}, {"death_district"}),
        ({"passport_no": "X1"}, {"body"}),
        ({"maternal_status": 2}, {"body"}),
        ({"surname": "x"}, {"surname"}),
    ],
)
def test_an_invalid_form_is_refused_field_by_field(
    admin: Admin, changes: dict[str, Any], bad: set[str]
) -> None:
    form = death_form(**changes)
    response = admin.post("/death-forms", form, params={"env": "live"})
    assert field_errors(response) == bad
    assert form["identity_number"] not in response.text


@pytest.mark.parametrize(
    ("changes", "hint"),
    [
        ({"died_at": "2026-06-16T00:00:00+03:00"}, "future"),
        ({"death_district": 2097}, "not in province"),
        ({"residence_district": 999999}, "unknown district"),
    ],
)
def test_a_form_the_registry_refuses_is_422_with_its_reason(
    server: LiveServer, admin: Admin, changes: dict[str, Any], hint: str
) -> None:
    mark = last_change_id(server.engine)
    response = admin.post("/death-forms", death_form(**changes), params={"env": "live"})
    assert hint in problem(response, 422)["detail"]
    assert changes_since(server.engine, mark) == []


def test_an_invalid_correction_is_refused(admin: Admin) -> None:
    numbers = register(admin, death_form())
    response = admin.put("/death-forms/{form_no}", death_form(sex=9), **at(numbers))
    assert field_errors(response) == {"sex"}
