"""The audit views of the operator API: G2G calls by institution, method, environment and time;
the data subject's view (which institutions queried a person or a code, and the operator changes
about them); and the change log. They change nothing; a subject's view, which shows whose data
was touched, is itself logged as a read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import Credential, LiveServer
from tests.web.admin_support import (
    Admin,
    Token,
    changes_since,
    field_errors,
    last_change_id,
    new_tckn,
    ok,
    problem,
    unique,
)

HES = "/services/g2g/saglik/hes/check-employee-hes-code"


def g2g_user(admin: Admin, methods: list[str] | None = None) -> tuple[str, Credential]:
    """A new institution with one live user, made through the API."""
    institution = unique("Kurum")
    ok(admin.post("/institutions", {"name": institution}), 201)
    body: dict[str, Any] = {"username": unique("u"), "institution": institution, "env": "live"}
    body.update({"methods": methods} if methods is not None else {"all_methods": True})
    created = ok(admin.post("/users", body), 201)
    return institution, Credential(created["username"], created["password"], "live")


def person_with_code(admin: Admin) -> tuple[str, str]:
    tckn = new_tckn()
    body = {"env": "live", "identity_number": tckn, "first_name": "Elif", "last_name": "Şahin"}
    ok(admin.put("/persons", body), 201)
    code = ok(admin.post("/hes-codes", {"env": "live", "identity_number": tckn}), 201)["code"]
    return tckn, code


def check(server: LiveServer, user: Credential, code: str) -> int:
    with server.client() as client:
        return client.post(HES, json={"hes_code": code}, auth=user.auth).status_code


# --- calls --------------------------------------------------------------------------------------


def test_calls_by_institution_method_environment_and_time(server: LiveServer, admin: Admin) -> None:
    institution, user = g2g_user(admin)
    _, code = person_with_code(admin)
    assert check(server, user, code) == 200
    server.clock.advance(timedelta(hours=1))
    assert check(server, user, "ZZ9ZZ9ZZ99") == 400

    calls = ok(admin.get("/audit/calls", params={"institution": institution}))["calls"]
    assert [(c["method"], c["outcome"], c["status"]) for c in calls] == [
        ("check-employee-hes-code", "hescodenotfound", 400),
        ("check-employee-hes-code", "ok", 200),
    ], "newest first"
    first = calls[1]
    assert (first["institution"], first["username"], first["env"], first["service"]) == (
        institution,
        user.username,
        "live",
        "hes",
    )
    assert first["occurred_at"] == "2026-06-15T09:00:00+00:00"

    later = {"institution": institution, "since": "2026-06-15T12:30:00+03:00"}
    assert len(ok(admin.get("/audit/calls", params=later))["calls"]) == 1
    earlier = {"institution": institution, "until": "2026-06-15T09:30:00Z"}
    assert len(ok(admin.get("/audit/calls", params=earlier))["calls"]) == 1
    one = {"institution": institution, "limit": "1"}
    assert len(ok(admin.get("/audit/calls", params=one))["calls"]) == 1
    other = {"institution": institution, "method": "check-hes-codes"}
    assert ok(admin.get("/audit/calls", params=other))["calls"] == []
    test_env = {"institution": institution, "env": "test"}
    assert ok(admin.get("/audit/calls", params=test_env))["calls"] == []


def test_calls_of_an_unknown_institution_are_404(admin: Admin) -> None:
    problem(admin.get("/audit/calls", params={"institution": unique("Yok")}), 404)


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"env": "prod"}, {"env"}),
        ({"since": "yesterday"}, {"since"}),
        ({"until": "2026-06-15"}, {"until"}),
        ({"limit": "0"}, {"limit"}),
        ({"limit": "10001"}, {"limit"}),
        ({"limit": "many"}, {"limit"}),
        ({"institution": ""}, {"institution"}),
    ],
)
def test_an_invalid_calls_query_is_refused(
    admin: Admin, params: dict[str, str], bad: set[str]
) -> None:
    assert field_errors(admin.get("/audit/calls", params=params)) == bad


@pytest.mark.parametrize(
    ("params", "hint"),
    [
        ({"method": "check-everything"}, "unknown method"),
        ({"since": "2026-06-15T10:00:00Z", "until": "2026-06-15T09:00:00Z"}, "after since"),
    ],
)
def test_a_calls_query_the_service_refuses_is_422(
    admin: Admin, params: dict[str, str], hint: str
) -> None:
    assert hint in problem(admin.get("/audit/calls", params=params), 422)["detail"]


# --- the data subject's view --------------------------------------------------------------------


def test_who_queried_a_person_and_what_operators_changed(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    first, early = g2g_user(admin)
    second, late = g2g_user(admin)
    tckn, code = person_with_code(admin)
    assert check(server, early, code) == 200
    server.clock.advance(timedelta(minutes=5))
    assert check(server, late, code) == 200

    mark = last_change_id(server.engine)
    view = ok(admin.get("/audit/subject", params={"identity_number": tckn}))
    assert view["institutions"] == [second, first]
    assert [c["username"] for c in view["calls"]] == [late.username, early.username]
    assert [(c["entity"], c["action"], c["actor"]) for c in view["changes"]] == [
        ("hes_code", "issue", operator_token.actor),
        ("person", "read", operator_token.actor),  # PUT /persons answered with the record
        ("person", "add", operator_token.actor),
    ]
    by_code = ok(admin.get("/audit/subject", params={"code": code.lower()}))
    assert by_code["institutions"] == [second, first]
    assert by_code["changes"] == []

    person_view, code_view = changes_since(server.engine, mark)
    assert (person_view["entity"], person_view["action"]) == ("subject_view", "read")
    assert person_view["subject_ref"] == view["changes"][-1]["subject_ref"]
    assert (code_view["entity"], code_view["action"], code_view["subject_ref"]) == (
        "subject_view",
        "read",
        None,
    )
    assert code_view["target"].startswith("hes:")
    assert {person_view["actor"], code_view["actor"]} == {operator_token.actor}
    assert tckn not in str([person_view, code_view])
    assert code not in str([person_view, code_view])
    again = ok(admin.get("/audit/subject", params={"identity_number": tckn}))
    assert again["changes"][0]["entity"] == "subject_view", "the person sees who looked"


def test_a_person_nobody_queried(admin: Admin) -> None:
    view = ok(admin.get("/audit/subject", params={"identity_number": new_tckn()}))
    assert view == {"institutions": [], "calls": [], "changes": []}


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({}, {"query"}),
        ({"identity_number": "22790400600", "code": "A1S10001S1"}, {"query"}),
        ({"identity_number": "2279"}, {"identity_number"}),
        ({"code": "A1S1-0001-S1"}, {"code"}),
    ],
)
def test_an_invalid_subject_query_is_refused(
    admin: Admin, params: dict[str, str], bad: set[str]
) -> None:
    assert field_errors(admin.get("/audit/subject", params=params)) == bad


def test_a_wrong_check_digit_is_refused_without_echoing_it(admin: Admin) -> None:
    tckn = new_tckn()
    wrong = tckn[:10] + str((int(tckn[10]) + 1) % 10)
    body = problem(admin.get("/audit/subject", params={"identity_number": wrong}), 422)
    assert wrong not in str(body)


# --- the change log -----------------------------------------------------------------------------


def test_the_change_log_by_entity_and_time(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    server.clock.advance(timedelta(days=3))
    institution = unique("Kurum")
    ok(admin.post("/institutions", {"name": institution}), 201)
    params = {"entity": "institution", "since": "2026-06-18T09:00:00Z", "limit": "5"}
    changes = ok(admin.get("/audit/changes", params=params))["changes"]
    assert changes[0]["target"] == institution
    assert changes[0]["actor"] == operator_token.actor
    assert changes[0]["occurred_at"] == "2026-06-18T09:00:00+00:00"
    assert {c["entity"] for c in changes} == {"institution"}
    early = {"entity": "institution", "until": "2026-06-18T09:00:00Z", "limit": "10000"}
    assert institution not in {
        c["target"] for c in ok(admin.get("/audit/changes", params=early))["changes"]
    }


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"limit": "-1"}, {"limit"}),
        ({"since": "1700000000"}, {"since"}),
        ({"entity": ""}, {"entity"}),
    ],
)
def test_an_invalid_changes_query_is_refused(
    admin: Admin, params: dict[str, str], bad: set[str]
) -> None:
    assert field_errors(admin.get("/audit/changes", params=params)) == bad
