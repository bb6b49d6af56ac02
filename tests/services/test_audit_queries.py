"""The audit questions: who called what and when, and the data subject's "who saw my data",
answered through pseudonyms after real G2G calls over a socket."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from saglik import web
from saglik.domain.clock import ManualClock
from saglik.domain.errors import InvalidInput, NotFound
from saglik.domain.hes import HesError
from saglik.services.accounts import AccountService
from saglik.services.audit_queries import CALL_OUTCOMES, AuditQueries
from saglik.web.gateway import Denial
from saglik.web.pipeline import AUDIT_UNAVAILABLE
from tests.change_support import change_log
from tests.conftest import Holder, LiveServer

EMPLOYEE = "check-employee-hes-code"
MakeHolder = Callable[..., Holder]


@pytest.fixture
def queries(store: Engine, clock: ManualClock) -> AuditQueries:
    return AuditQueries(store, change_log(store, clock))


@pytest.fixture
def http(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        yield client


def _institution_user(accounts: AccountService) -> tuple[str, tuple[str, str]]:
    name = f"Kurum {uuid.uuid4().hex[:8]}"
    accounts.add_institution(name)
    username = f"u{uuid.uuid4().hex[:10]}"
    issued = accounts.add_user(username=username, institution=name, env="live", methods=[EMPLOYEE])
    return name, (username, issued.password)


def _check(http: httpx.Client, auth: tuple[str, str], code: str) -> int:
    url = f"/services/g2g/saglik/hes/{EMPLOYEE}"
    return http.post(url, json={"hes_code": code}, auth=auth).status_code


def test_the_subject_view_names_every_institution_that_queried_the_person(
    server: LiveServer,
    http: httpx.Client,
    accounts: AccountService,
    make_holder: MakeHolder,
    queries: AuditQueries,
) -> None:
    holder, other = make_holder(), make_holder()
    first, first_auth = _institution_user(accounts)
    second, second_auth = _institution_user(accounts)
    bystander, bystander_auth = _institution_user(accounts)
    assert _check(http, first_auth, holder.code) == 200
    server.clock.advance(timedelta(minutes=1))
    assert _check(http, second_auth, holder.code.lower()) == 200
    assert _check(http, bystander_auth, other.code) == 200

    by_person = queries.subject(identity_number=holder.identity_number)
    assert by_person.institutions == [second, first]
    assert {c.method for c in by_person.calls} == {EMPLOYEE}
    assert [c.action for c in reversed(by_person.changes)][:2] == ["add", "issue"]

    by_code = queries.subject(code=holder.code)
    assert by_code.institutions == [second, first]
    assert bystander not in queries.subject(identity_number=holder.identity_number).institutions


def test_a_code_asked_before_it_existed_is_found_by_the_code(
    http: httpx.Client, accounts: AccountService, queries: AuditQueries
) -> None:
    name, auth = _institution_user(accounts)
    unknown = f"Q{uuid.uuid4().int % 10**9:09d}"
    assert _check(http, auth, unknown) == 400
    assert queries.subject(code=unknown).institutions == [name]


def test_calls_filter_by_institution_method_and_time(
    server: LiveServer,
    http: httpx.Client,
    accounts: AccountService,
    make_holder: MakeHolder,
    queries: AuditQueries,
) -> None:
    holder = make_holder()
    name, auth = _institution_user(accounts)
    start = server.clock.now()
    assert _check(http, auth, holder.code) == 200
    server.clock.advance(timedelta(hours=2))
    assert _check(http, auth, holder.code) == 200
    mine = queries.calls(institution=name)
    assert len(mine) == 2
    assert [c.occurred_at for c in mine] == sorted((c.occurred_at for c in mine), reverse=True)
    assert len(queries.calls(institution=name, until=start + timedelta(hours=1))) == 1
    assert len(queries.calls(institution=name, since=start + timedelta(hours=1))) == 1
    assert queries.calls(institution=name, method="check-hes-codes") == []


def test_calls_filter_by_outcome(
    http: httpx.Client, accounts: AccountService, make_holder: MakeHolder, queries: AuditQueries
) -> None:
    holder = make_holder()
    name, (username, password) = _institution_user(accounts)
    assert _check(http, (username, password), holder.code) == 200
    assert _check(http, (username, password), "ZZ9ZZ9ZZ99") == 400
    assert _check(http, (username, "not-the-password"), holder.code) == 401
    assert [c.outcome for c in queries.calls(institution=name)] == [
        "wrong-password",
        "hescodenotfound",
        "ok",
    ]
    for outcome in ("ok", "hescodenotfound", "wrong-password"):
        assert [c.outcome for c in queries.calls(institution=name, outcome=outcome)] == [outcome]
    assert queries.calls(institution=name, outcome="throttled") == []


def _written_outcomes() -> set[str]:
    """The outcomes the web layer writes as literals: ``Reply(response, "x")`` (or a module
    constant), and the ÖBS handlers' ``(payload, "x", refs)``."""
    found: set[str] = set()
    for path in Path(web.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value.value, str)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "Reply"
                and len(node.args) >= 2
            ):
                outcome = node.args[1]
            elif (
                isinstance(node, ast.Tuple) and len(node.elts) == 3 and path.name == "obs_routes.py"
            ):
                outcome = node.elts[1]
            else:
                continue
            if isinstance(outcome, ast.Constant) and isinstance(outcome.value, str):
                found.add(outcome.value)
            elif isinstance(outcome, ast.Name) and outcome.id in constants:
                found.add(constants[outcome.id])
    return found


def test_the_outcomes_offered_are_exactly_those_the_pipeline_records() -> None:
    errors = {cls.error_key for cls in HesError.__subclasses__()}
    denials = {d.value for d in Denial}
    recorded = (_written_outcomes() | errors | denials) - {AUDIT_UNAVAILABLE}
    assert len(CALL_OUTCOMES) == len(set(CALL_OUTCOMES))
    assert set(CALL_OUTCOMES) == recorded


def test_bad_questions_are_refused_clearly(queries: AuditQueries, clock: ManualClock) -> None:
    with pytest.raises(NotFound):
        queries.calls(institution="No Such Institution Here")
    for bad in (
        lambda: queries.calls(method="no-such-method"),
        lambda: queries.calls(env="prod"),
        lambda: queries.calls(outcome="fine"),
        lambda: queries.calls(since=clock.now(), until=clock.now()),
        lambda: queries.calls(since=clock.now().replace(tzinfo=None)),
        lambda: queries.calls(limit=0),
        lambda: queries.subject(),
        lambda: queries.subject(identity_number="12345678901"),
        lambda: queries.subject(code="not-a-code"),
        lambda: queries.subject(identity_number="10000000146", code="A1B2C3D4E5"),
    ):
        with pytest.raises(InvalidInput):
            bad()
