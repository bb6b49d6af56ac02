"""HES data through the operator API: persons, consent, codes, risk periods and health events,
each answered as documented, each change in the change log under the token's name, and each in
force on the G2G HES methods from the next call."""

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
from tests.web.conftest import NOT_FOUND_BODY, Caller, assert_hes_error

NOW = "2026-06-15T09:00:00+00:00"


def add_person(
    admin: Admin, env: str = "live", first: str = "Ayşe Gül", last: str = "Yıldırım"
) -> str:
    tckn = new_tckn()
    body = {"env": env, "identity_number": tckn, "first_name": first, "last_name": last}
    ok(admin.put("/persons", body), 201)
    return tckn


def issue(admin: Admin, tckn: str, env: str = "live", **fields: Any) -> dict[str, Any]:
    issued: dict[str, Any] = ok(
        admin.post("/hes-codes", {"env": env, "identity_number": tckn, **fields}), 201
    )
    return issued


def person(admin: Admin, tckn: str, env: str = "live") -> dict[str, Any]:
    found: dict[str, Any] = ok(admin.get("/persons", params={"env": env, "identity_number": tckn}))
    return found


def text_of(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False, default=str)


def change_then_read(server: LiveServer, after_id: int, token: Token) -> dict[str, Any]:
    """A PUT answered with the person's record: its change, then the read of that record (the
    answer shows it), both by ``token`` about the same person. Returns the change."""
    change, read = changes_since(server.engine, after_id)
    assert (read["entity"], read["action"], read["env"]) == ("person", "read", change["env"])
    assert change["actor"] == read["actor"] == token.actor
    assert read["subject_ref"] == change["subject_ref"] is not None
    return change


# --- persons ------------------------------------------------------------------------------------


def test_add_a_person_then_correct_their_names(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    tckn = new_tckn()
    body = {
        "env": "live",
        "identity_number": tckn,
        "first_name": "fatma  gökçe",
        "last_name": "ışık",
    }
    mark = last_change_id(server.engine)
    created = ok(admin.put("/persons", body), 201)
    assert created == {
        "env": "live",
        "identity_number": tckn,
        "first_name": "FATMA GÖKÇE",
        "last_name": "IŞIK",
        "created_at": NOW,
        "consent": {"vaccination": False, "immunity": False, "test": False},
        "codes": [],
        "events": {"vaccinations": [], "infections": [], "pcr_results": [], "risk_periods": []},
    }
    added = change_then_read(server, mark, operator_token)
    assert (added["entity"], added["action"], added["before"]) == ("person", "add", None)
    assert added["after"] == {"first_name": "(personal)", "last_name": "(personal)"}
    assert added["subject_ref"] is not None
    assert tckn not in text_of([added])

    mark = last_change_id(server.engine)
    corrected = ok(admin.put("/persons", {**body, "first_name": "Fatma"}), 200)
    assert corrected["first_name"] == "FATMA"
    change = change_then_read(server, mark, operator_token)
    assert (change["entity"], change["action"]) == ("person", "correct")
    assert change["before"] == {"first_name": "(personal)"}
    assert change["after"] == {"first_name": "(personal)"}
    assert "FATMA" not in text_of([added, change])
    assert change["subject_ref"] == added["subject_ref"]

    mark = last_change_id(server.engine)
    ok(admin.put("/persons", {**body, "first_name": "FATMA"}), 200)
    read = [(c["entity"], c["action"]) for c in changes_since(server.engine, mark)]
    assert read == [("person", "read")], "nothing changed; the record shown is logged"


def test_the_environments_hold_different_people(admin: Admin) -> None:
    tckn = add_person(admin, env="test")
    problem(admin.get("/persons", params={"env": "live", "identity_number": tckn}), 404)
    assert person(admin, tckn, env="test")["env"] == "test"


@pytest.mark.parametrize(
    ("change", "bad"),
    [
        ({"identity_number": "1234567890"}, {"identity_number"}),
        ({"identity_number": 12345678901}, {"identity_number"}),
        ({"env": "prod"}, {"env"}),
        ({"first_name": ""}, {"first_name"}),
        ({"last_name": None}, {"last_name"}),
        ({"first_name": "x" * 101}, {"first_name"}),
        ({"first_name": "A\x00"}, {"first_name"}),
        ({"nickname": "x"}, {"nickname"}),
    ],
)
def test_an_invalid_person_is_refused_field_by_field(
    admin: Admin, change: dict[str, Any], bad: set[str]
) -> None:
    body = {"env": "live", "identity_number": new_tckn(), "first_name": "A", "last_name": "B"}
    assert field_errors(admin.put("/persons", {**body, **change})) == bad


def test_a_wrong_check_digit_is_refused_by_the_service(admin: Admin) -> None:
    tckn = new_tckn()
    wrong = tckn[:10] + str((int(tckn[10]) + 1) % 10)
    body = {"env": "live", "identity_number": wrong, "first_name": "A", "last_name": "B"}
    detail = problem(admin.put("/persons", body), 422)["detail"]
    assert "T.C. Kimlik No" in detail
    assert wrong not in detail


def test_a_blank_name_is_refused_by_the_service(admin: Admin) -> None:
    body = {"env": "live", "identity_number": new_tckn(), "first_name": "  ", "last_name": "B"}
    assert "blank" in problem(admin.put("/persons", body), 422)["detail"]


def test_reading_a_person(admin: Admin) -> None:
    tckn = add_person(admin)
    found = person(admin, tckn)
    assert (found["identity_number"], found["first_name"]) == (tckn, "AYŞE GÜL")


def test_reading_an_unknown_person_is_404_without_the_number(admin: Admin) -> None:
    tckn = new_tckn()
    body = problem(admin.get("/persons", params={"env": "live", "identity_number": tckn}), 404)
    assert tckn not in json.dumps(body)


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({}, {"env", "identity_number"}),
        ({"env": "live"}, {"identity_number"}),
        ({"env": "both", "identity_number": "12345678901"}, {"env"}),
        ({"env": "live", "identity_number": "1234"}, {"identity_number"}),
    ],
)
def test_an_invalid_person_query_is_refused(
    admin: Admin, params: dict[str, str], bad: set[str]
) -> None:
    assert field_errors(admin.get("/persons", params=params)) == bad
    assert field_errors(admin.get("/hes-codes", params=params)) == bad


# --- consent ------------------------------------------------------------------------------------


def test_consent_is_set_and_logged_with_before_and_after(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    tckn = add_person(admin)
    mark = last_change_id(server.engine)
    body = {
        "env": "live",
        "identity_number": tckn,
        "vaccination": True,
        "immunity": False,
        "test": True,
    }
    updated = ok(admin.put("/persons/consent", body))
    assert updated["consent"] == {"vaccination": True, "immunity": False, "test": True}
    change = change_then_read(server, mark, operator_token)
    assert (change["entity"], change["action"], change["env"]) == ("consent", "set", "live")
    assert change["before"] == {"vaccination": False, "immunity": False, "test": False}
    assert change["after"] == {"vaccination": True, "immunity": False, "test": True}


def test_consent_needs_all_three_flags_as_booleans(admin: Admin) -> None:
    tckn = add_person(admin)
    body = {"env": "live", "identity_number": tckn, "vaccination": "yes", "immunity": True}
    assert field_errors(admin.put("/persons/consent", body)) == {"vaccination", "test"}


def test_consent_of_an_unknown_person_is_404(admin: Admin) -> None:
    body = {
        "env": "live",
        "identity_number": new_tckn(),
        "vaccination": True,
        "immunity": True,
        "test": True,
    }
    problem(admin.put("/persons/consent", body), 404)


def test_consent_shows_on_the_plus_methods(admin: Admin, live: Caller) -> None:
    tckn = add_person(admin)
    code = issue(admin, tckn)["code"]
    for dose in (1, 2):
        ok(admin.post("/vaccinations", {"env": "live", "identity_number": tckn, "dose": dose}), 201)
    assert live.check("check-hes-code-plus", code).json()["is_vaccinated"] is None
    flags = {"vaccination": True, "immunity": False, "test": False}
    ok(admin.put("/persons/consent", {"env": "live", "identity_number": tckn, **flags}))
    assert live.check("check-hes-code-plus", code).json()["is_vaccinated"] is True


# --- codes --------------------------------------------------------------------------------------


def test_issue_codes_and_list_them(
    server: LiveServer, admin: Admin, operator_token: Token, live: Caller
) -> None:
    tckn = add_person(admin)
    mark = last_change_id(server.engine)
    default = issue(admin, tckn)
    assert default["expires_at"] == "2027-06-15T09:00:00+00:00"
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"]) == ("hes_code", "issue")
    assert change["target"].startswith("hes:")
    assert default["code"] not in text_of([change])
    short = issue(admin, tckn, valid_days=30)
    assert short["expires_at"] == "2026-07-15T09:00:00+00:00"
    forever = issue(admin, tckn, no_expiry=True)
    assert forever["expires_at"] is None
    assert live.check("check-employee-hes-code", forever["code"]).status_code == 200

    listed = ok(admin.get("/hes-codes", params={"env": "live", "identity_number": tckn}))
    assert [c["code"] for c in listed["codes"]] == [
        forever["code"],
        short["code"],
        default["code"],
    ]
    assert {c["status"] for c in listed["codes"]} == {"active"}
    assert listed["codes"][0]["expires_at"] is None
    assert person(admin, tckn)["codes"] == listed["codes"]


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"valid_days": 0}, {"valid_days"}),
        ({"valid_days": 36501}, {"valid_days"}),
        ({"valid_days": 1.5}, {"valid_days"}),
        ({"no_expiry": "true"}, {"no_expiry"}),
        ({"valid_days": 10, "no_expiry": True}, {"body"}),
        ({"code": "A1B2C3D4E5"}, {"code"}),
    ],
)
def test_an_invalid_code_request_is_refused(
    admin: Admin, fields: dict[str, Any], bad: set[str]
) -> None:
    body = {"env": "live", "identity_number": new_tckn(), **fields}
    assert field_errors(admin.post("/hes-codes", body)) == bad


def test_codes_of_an_unknown_person_are_404(admin: Admin) -> None:
    tckn = new_tckn()
    problem(admin.post("/hes-codes", {"env": "live", "identity_number": tckn}), 404)
    problem(admin.get("/hes-codes", params={"env": "live", "identity_number": tckn}), 404)


def test_a_cancelled_code_is_not_found_on_the_gateway(
    server: LiveServer, admin: Admin, operator_token: Token, live: Caller
) -> None:
    """contract §4.4, hes.yaml: an unknown, cancelled or malformed code is ``hescodenotfound``."""
    tckn = add_person(admin)
    code = issue(admin, tckn)["code"]
    assert live.check("check-employee-hes-code", code).status_code == 200
    mark = last_change_id(server.engine)
    cancelled = ok(admin.post("/hes-codes/cancel", {"env": "live", "code": code.lower()}))
    assert cancelled == {"code": code, "status": "cancelled"}
    for method in ("check-employee-hes-code", "check-hes-code-plus", "check-visitor-hes-code"):
        assert_hes_error(live.check(method, code), NOT_FOUND_BODY)
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"]) == ("hes_code", "cancel")
    assert change["before"] == {"cancelled_at": None}
    assert change["after"] == {"cancelled_at": "2026-06-15 09:00:00+00:00"}
    assert code not in text_of([change])
    assert tckn not in text_of([change])
    listed = ok(admin.get("/hes-codes", params={"env": "live", "identity_number": tckn}))
    assert listed["codes"][0]["status"] == "cancelled"
    assert listed["codes"][0]["cancelled_at"] == NOW

    mark = last_change_id(server.engine)
    problem(admin.post("/hes-codes/cancel", {"env": "live", "code": code}), 409)
    assert changes_since(server.engine, mark) == []


def test_cancelling_an_unknown_code_is_404(admin: Admin) -> None:
    problem(admin.post("/hes-codes/cancel", {"env": "live", "code": "ZZ9ZZ9ZZ99"}), 404)


def test_a_code_of_the_other_environment_is_unknown(admin: Admin) -> None:
    code = issue(admin, add_person(admin, env="test"), env="test")["code"]
    problem(admin.post("/hes-codes/cancel", {"env": "live", "code": code}), 404)


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"env": "live", "code": "ABCD-1234-"}, {"code"}),
        ({"env": "live", "code": "A1S1"}, {"code"}),
        ({"env": "live"}, {"code"}),
        ({"code": "ZZ9ZZ9ZZ99"}, {"env"}),
    ],
)
def test_an_invalid_cancel_is_refused(admin: Admin, body: dict[str, Any], bad: set[str]) -> None:
    assert field_errors(admin.post("/hes-codes/cancel", body)) == bad


# --- risk periods -------------------------------------------------------------------------------


def test_open_and_close_a_risk_period(
    server: LiveServer, admin: Admin, operator_token: Token, live: Caller
) -> None:
    tckn = add_person(admin)
    code = issue(admin, tckn)["code"]
    key = {"env": "live", "identity_number": tckn}
    mark = last_change_id(server.engine)
    opened = ok(admin.post("/risk-periods", {**key, "kind": "contact"}), 201)
    assert opened == {"kind": "contact", "started_at": NOW, "ended_at": None}
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"]) == ("risk", "open")
    assert change["after"]["risk_kind"] == "contact"
    check = live.check("check-employee-hes-code", code).json()
    assert check["current_health_status"] == "RISKY"

    mark = last_change_id(server.engine)
    closed = ok(admin.post("/risk-periods/close", key))
    assert closed == {"closed": 1, "ended_at": NOW}
    assert one_change(server.engine, mark, operator_token)["action"] == "close"
    check = live.check("check-employee-hes-code", code).json()
    assert check["current_health_status"] == "RISKLESS"
    periods = person(admin, tckn)["events"]["risk_periods"]
    assert periods == [{"kind": "contact", "started_at": NOW, "ended_at": NOW}]


def test_closing_when_nothing_is_open_is_a_conflict(server: LiveServer, admin: Admin) -> None:
    tckn = add_person(admin)
    mark = last_change_id(server.engine)
    body = problem(admin.post("/risk-periods/close", {"env": "live", "identity_number": tckn}), 409)
    assert "no open risk period" in body["detail"]
    assert changes_since(server.engine, mark) == []


def test_risk_periods_of_an_unknown_person_are_404(admin: Admin) -> None:
    key = {"env": "live", "identity_number": new_tckn()}
    problem(admin.post("/risk-periods", {**key, "kind": "case"}), 404)
    problem(admin.post("/risk-periods/close", key), 404)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"kind": "maybe"}, {"kind"}),
        ({}, {"kind"}),
        ({"kind": "case", "at": "yesterday"}, {"at"}),
        ({"kind": "case", "at": "1700000000"}, {"at"}),
        ({"kind": "case", "at": "2026-02-30T10:00:00Z"}, {"at"}),
        ({"kind": "case", "at": "0001-01-01T00:00:00+05:00"}, {"at"}),
        ({"kind": "case", "at": "9999-12-31T23:59:59-05:00"}, {"at"}),
    ],
)
def test_an_invalid_risk_period_is_refused(
    admin: Admin, fields: dict[str, Any], bad: set[str]
) -> None:
    body = {"env": "live", "identity_number": new_tckn(), **fields}
    assert field_errors(admin.post("/risk-periods", body)) == bad


# --- vaccinations, infections, PCR results ------------------------------------------------------


def test_record_health_events_with_and_without_times(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    tckn = add_person(admin)
    key = {"env": "live", "identity_number": tckn}
    mark = last_change_id(server.engine)
    dose = ok(
        admin.post(
            "/vaccinations",
            {**key, "dose": 1, "vaccine": " Bio  NTech ", "at": "2026-01-10T10:00:00+03:00"},
        ),
        201,
    )
    assert dose == {
        "dose": 1,
        "vaccine": "Bio NTech",
        "administered_at": "2026-01-10T07:00:00+00:00",
    }
    infection = ok(admin.post("/infections", {**key, "at": "2026-05-02T00:00:00"}), 201)
    assert infection == {"diagnosed_at": "2026-05-02T00:00:00+00:00"}, "no offset: UTC"
    pcr = ok(admin.post("/pcr-results", {**key, "negative": True}), 201)
    assert pcr == {"negative": True, "sampled_at": NOW}
    rows = changes_since(server.engine, mark)
    assert [(r["entity"], r["action"], r["actor"]) for r in rows] == [
        ("vaccination", "record", operator_token.actor),
        ("infection", "record", operator_token.actor),
        ("pcr", "record", operator_token.actor),
    ]
    assert tckn not in text_of(rows)
    events = person(admin, tckn)["events"]
    assert events["vaccinations"] == [dose]
    assert events["infections"] == [infection]
    assert events["pcr_results"] == [pcr]


def test_the_vaccine_defaults_as_on_the_command_line(admin: Admin) -> None:
    tckn = add_person(admin)
    dose = ok(admin.post("/vaccinations", {"env": "live", "identity_number": tckn, "dose": 2}), 201)
    assert dose["vaccine"] == "CoronaVac"


def test_recording_an_event_twice_stores_it_once(admin: Admin) -> None:
    tckn = add_person(admin)
    body = {"env": "live", "identity_number": tckn, "at": "2026-06-01T08:00:00Z"}
    ok(admin.post("/infections", body), 201)
    ok(admin.post("/infections", body), 201)
    assert len(person(admin, tckn)["events"]["infections"]) == 1


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("/vaccinations", {"dose": 1}),
        ("/infections", {}),
        ("/pcr-results", {"negative": False}),
    ],
)
def test_events_of_an_unknown_person_are_404(
    admin: Admin, path: str, fields: dict[str, Any]
) -> None:
    tckn = new_tckn()
    body = problem(admin.post(path, {"env": "live", "identity_number": tckn, **fields}), 404)
    assert tckn not in json.dumps(body)


@pytest.mark.parametrize(
    ("path", "fields", "bad"),
    [
        ("/vaccinations", {}, {"dose"}),
        ("/vaccinations", {"dose": 0}, {"dose"}),
        ("/vaccinations", {"dose": 1, "vaccine": ""}, {"vaccine"}),
        ("/vaccinations", {"dose": "1"}, {"dose"}),
        ("/infections", {"at": "2026-06-01"}, {"at"}),
        ("/pcr-results", {}, {"negative"}),
        ("/pcr-results", {"negative": 1}, {"negative"}),
    ],
)
def test_an_invalid_event_is_refused(
    admin: Admin, path: str, fields: dict[str, Any], bad: set[str]
) -> None:
    body = {"env": "live", "identity_number": new_tckn(), **fields}
    assert field_errors(admin.post(path, body)) == bad


def test_a_blank_vaccine_name_is_refused_by_the_service(admin: Admin) -> None:
    tckn = add_person(admin)
    body = {"env": "live", "identity_number": tckn, "dose": 1, "vaccine": "   "}
    assert "vaccine" in problem(admin.post("/vaccinations", body), 422)["detail"]
