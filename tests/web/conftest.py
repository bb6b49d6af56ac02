"""Helpers for the black-box HES tests: wire paths, shared service users, audit look-ups and the
test-environment fixtures pinned to the clock.

Everything here talks to the server over its socket (``server.base_url``) or reads the store the
server writes to; nothing calls into the web layer directly.
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services.accounts import AccountService
from saglik.services.changes import store_pseudonymizer
from saglik.services.fixtures import apply_hes_fixtures
from saglik.store.schema import audit_events, audit_subjects, service_users
from tests.change_support import change_log
from tests.conftest import Credential, LiveServer
from tests.web.admin_support import admin, operator_token  # noqa: F401 (test_admin_* fixtures)

LIVE_BASE = "/services/g2g/saglik/hes/"
TEST_BASE = "/services/g2g/test/saglik/hes/"

SINGLE_METHODS = (
    "check-visitor-hes-code",
    "check-employee-hes-code",
    "check-hes-code-plus",
    "check-hes-code",
)
BULK_METHODS = ("check-hes-codes", "check-hes-codes-plus")
HES_METHODS = (*SINGLE_METHODS, *BULK_METHODS)

RESULT_KEYS = [
    "expiration_date",
    "current_health_status",
    "masked_identity_number",
    "masked_firstname",
    "masked_lastname",
]
"""The observed wire order, in every method (contract §4.2)."""
PLUS_KEYS = [
    *RESULT_KEYS,
    "is_vaccinated",
    "is_immune",
    "is_test_data_shared",
    "last_negative_test_date",
]

SECONDS_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
MILLIS_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

PROBLEM_TYPE = "https://hescode.saglik.gov.tr/problem/problem-with-message"
CONSTRAINT_TYPE = "https://hescode.saglik.gov.tr/problem/constraint-violation"

NOT_FOUND_BODY = {
    "entityName": "hesCode",
    "errorKey": "hescodenotfound",
    "type": PROBLEM_TYPE,
    "title": "Hes code not found!",
    "status": 400,
    "message": "error.hescodenotfound",
    "params": "hesCode",
}
EXPIRED_BODY = {
    "entityName": "hesCode",
    "errorKey": "hescodehasbeenexpired",
    "type": PROBLEM_TYPE,
    "title": "Hes code has been expired!",
    "status": 400,
    "message": "error.hescodehasbeenexpired",
    "params": "hesCode",
}
"""contract §4.4, in the document's key order."""

VISIT = {"city": "ANKARA", "district": "ÇANKAYA", "explicit_address": "Bilkent, 06800"}


def path(env: str, method: str) -> str:
    return (LIVE_BASE if env == "live" else TEST_BASE) + method


def request_body(method: str, code: str, **visit: Any) -> Any:
    """The smallest valid body of ``method`` for one code."""
    if method in BULK_METHODS:
        return [{"hes_code": code}]
    if method == "check-visitor-hes-code":
        return {"hes_code": code, **VISIT, **visit}
    return {"hes_code": code}


def media_type(response: httpx.Response) -> str:
    return response.headers.get("content-type", "").split(";")[0].strip()


def assert_json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert media_type(response) == "application/json"
    return response.json()


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert media_type(response) == "application/problem+json"
    body = response.json()
    assert isinstance(body, dict)
    return body


def assert_hes_error(response: httpx.Response, expected: dict[str, Any]) -> None:
    body = assert_problem(response, 400)
    assert body == expected
    assert list(body) == list(expected)


def assert_http_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """Gateway failures (contract §3): type, title, status, message = error.http.<status>."""
    body = assert_problem(response, status)
    assert body["status"] == status
    assert body["message"] == f"error.http.{status}"
    assert isinstance(body["type"], str)
    assert body["type"]
    assert isinstance(body["title"], str)
    assert body["title"]
    return body


def assert_field_errors(response: httpx.Response, expected: Sequence[tuple[str, str]]) -> None:
    """A constraint violation whose fieldErrors are exactly ``[(field, message), ...]``."""
    body = assert_problem(response, 400)
    assert body["type"] == CONSTRAINT_TYPE
    assert body["title"] == "Method argument not valid"
    assert body["status"] == 400
    assert body["message"] == "error.validation"
    errors = body["fieldErrors"]
    assert isinstance(errors, list)
    for error in errors:
        assert set(error) == {"objectName", "field", "message"}
        assert isinstance(error["objectName"], str)
        assert error["objectName"]
    assert sorted((e["field"], e["message"]) for e in errors) == sorted(expected)


def millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- callers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Users:
    live: Credential
    test: Credential


@pytest.fixture(scope="session")
def users(store: Engine, clock: ManualClock) -> Users:
    """One all-methods, unlimited user per environment, created once per backend (hashing a
    password costs tens of milliseconds; most tests only need someone allowed to call)."""
    accounts = AccountService(store, clock, change_log(store, clock))
    made = {}
    for env in ("live", "test"):
        institution = f"Paylaşılan Kurum {env} {uuid.uuid4().hex[:8]}"
        accounts.add_institution(institution)
        username = f"shared{env}{uuid.uuid4().hex[:8]}"
        issued = accounts.add_user(
            username=username, institution=institution, env=env, methods=ALL_METHODS
        )
        made[env] = Credential(username, issued.password, env)
    return Users(live=made["live"], test=made["test"])


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


class Caller:
    """Posts JSON to one environment as one user."""

    def __init__(self, client: httpx.Client, credential: Credential) -> None:
        self.client = client
        self.credential = credential
        self.env = credential.env

    def post(self, method: str, body: Any, env: str | None = None) -> httpx.Response:
        return self.client.post(path(env or self.env, method), json=body, auth=self.credential.auth)

    def raw(
        self,
        method: str,
        content: bytes,
        content_type: str | None = "application/json",
        env: str | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": content_type} if content_type is not None else {}
        return self.client.post(
            path(env or self.env, method),
            content=content,
            headers=headers,
            auth=self.credential.auth,
        )

    def check(self, method: str, code: str, **visit: Any) -> httpx.Response:
        return self.post(method, request_body(method, code, **visit))


@pytest.fixture
def live(http: httpx.Client, users: Users) -> Caller:
    return Caller(http, users.live)


@pytest.fixture
def sandbox(http: httpx.Client, users: Users) -> Caller:
    return Caller(http, users.test)


# --- the store ---------------------------------------------------------------------------------


def last_audit_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(audit_events.c.id), 0))).scalar_one())


def audit_since(engine: Engine, after_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(audit_events).where(audit_events.c.id > after_id).order_by(audit_events.c.id)
            ).all()
        )


def subjects_of(engine: Engine, event_id: int) -> list[str]:
    with engine.connect() as conn:
        return sorted(
            conn.execute(
                select(audit_subjects.c.subject_ref).where(audit_subjects.c.event_id == event_id)
            ).scalars()
        )


def user_row(engine: Engine, credential: Credential) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            select(service_users).where(
                service_users.c.env == credential.env,
                service_users.c.username == credential.username,
            )
        ).one()


def dump_table(engine: Engine, table: Any) -> str:
    """Every value of every row, as one string (to search for clear personal data)."""
    with engine.connect() as conn:
        rows = conn.execute(select(table)).all()
    return json.dumps([[str(v) for v in row] for row in rows], ensure_ascii=False)


def pseudonymizer(server: LiveServer) -> Pseudonymizer:
    """The pseudonymizer keyed like the server's audit trail, to compute the subject references
    a call should have left."""
    return store_pseudonymizer(server.engine)


@pytest.fixture
def test_fixtures(server: LiveServer) -> Iterator[None]:
    """The sandbox fixtures applied relative to the clock as it is now, and again after the test
    at the clock the test started with (a test that moves the clock and re-applies them must not
    leave the next test with health events in its future)."""
    started = server.clock.now()
    apply_hes_fixtures(server.engine, server.clock)
    yield
    server.clock.set(started)
    apply_hes_fixtures(server.engine, server.clock)


_minutes = itertools.count(1)


@pytest.fixture
def fresh_minute(clock: ManualClock) -> None:
    """A minute of the clock no earlier test of this process used: refusals without a user are
    audited once per kind, address and minute (the rest folded), and every test calls from
    127.0.0.1 at the same clock time, so a test that wants to see its own refusal's row needs
    a minute of its own."""
    clock.advance(timedelta(minutes=next(_minutes)))
