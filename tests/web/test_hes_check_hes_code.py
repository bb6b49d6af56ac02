"""``check-hes-code``, the single-code method of earlier versions that real clients still call
(contract §4.1): the employee check's answer byte for byte, in both environments, behind a right
and an audit method name of its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Credential, Holder, LiveServer
from tests.web.conftest import (
    Caller,
    Users,
    assert_http_problem,
    assert_json,
    audit_since,
    last_audit_id,
    path,
)

LEGACY = "check-hes-code"
EMPLOYEE = "check-employee-hes-code"


def both(caller: Caller, body: Any) -> tuple[httpx.Response, httpx.Response]:
    return caller.post(LEGACY, body), caller.post(EMPLOYEE, body)


def assert_same_answer(legacy: httpx.Response, employee: httpx.Response) -> None:
    assert legacy.status_code == employee.status_code
    assert legacy.headers["content-type"] == employee.headers["content-type"]
    assert legacy.content == employee.content


@pytest.mark.parametrize("env", ["live", "test"])
def test_a_valid_code_answers_exactly_like_the_employee_check(
    http: httpx.Client, users: Users, make_holder: Callable[..., Holder], env: str
) -> None:
    caller = Caller(http, users.live if env == "live" else users.test)
    holder = make_holder(env=env)
    legacy, employee = both(caller, {"hes_code": holder.code})
    assert_json(legacy)
    assert_same_answer(legacy, employee)


@pytest.mark.parametrize(
    "body",
    [
        {"hes_code": "Z9Z99999Z9"},  # unknown
        {"hes_code": "A1S1-0001-S1"},  # a shape the service does not repair
        {},  # missing field
        {"hes_code": "  "},  # blank
        {"hes_code": 1234567890},  # wrong JSON type
        {"hes_code": None},
        [{"hes_code": "A1S10001S1"}],  # a bulk body
    ],
    ids=["unknown", "dashed", "missing", "blank", "number", "null", "array"],
)
@pytest.mark.parametrize("env", ["live", "test"])
def test_every_400_is_the_employee_checks_400(
    http: httpx.Client, users: Users, body: Any, env: str
) -> None:
    caller = Caller(http, users.live if env == "live" else users.test)
    legacy, employee = both(caller, body)
    assert legacy.status_code == 400
    assert_same_answer(legacy, employee)


def test_an_expired_code_answers_like_the_employee_check(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer
) -> None:
    holder = make_holder(valid_for=timedelta(days=1))
    server.clock.advance(timedelta(days=2))
    legacy, employee = both(live, {"hes_code": holder.code})
    assert legacy.status_code == 400
    assert legacy.json()["errorKey"] == "hescodehasbeenexpired"
    assert_same_answer(legacy, employee)


def test_broken_json_and_a_wrong_media_type_answer_like_the_employee_check(live: Caller) -> None:
    for content, media in ((b'{"hes_code": ', "application/json"), (b"{}", "text/plain")):
        legacy = live.raw(LEGACY, content, media)
        employee = live.raw(EMPLOYEE, content, media)
        assert legacy.status_code in (400, 415)
        assert legacy.status_code == employee.status_code
        assert legacy.json() == employee.json()


def test_it_is_a_right_of_its_own(
    http: httpx.Client, make_user: Callable[..., Credential], make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    employee_only = make_user(env="live", methods=(EMPLOYEE,))
    legacy_only = make_user(env="live", methods=(LEGACY,))
    body = {"hes_code": holder.code}
    assert_http_problem(http.post(path("live", LEGACY), json=body, auth=employee_only.auth), 403)
    assert_json(http.post(path("live", EMPLOYEE), json=body, auth=employee_only.auth))
    assert_json(http.post(path("live", LEGACY), json=body, auth=legacy_only.auth))
    assert_http_problem(http.post(path("live", EMPLOYEE), json=body, auth=legacy_only.auth), 403)


def test_calls_are_audited_under_its_own_method_name(
    live: Caller, make_holder: Callable[..., Holder], server: LiveServer
) -> None:
    holder = make_holder()
    before = last_audit_id(server.engine)
    live.check(LEGACY, holder.code)
    live.check(LEGACY, "Z9Z99999Z9")
    rows = audit_since(server.engine, before)
    assert [(r.service, r.method, r.status, r.outcome) for r in rows] == [
        ("hes", LEGACY, 200, "ok"),
        ("hes", LEGACY, 400, "hescodenotfound"),
    ]
