"""Operator API credentials: only an active bearer token opens ``/admin/api`` (every path, even
one that does not exist), and the two kinds of credential never cross: a G2G Basic credential is
refused here, an operator token is refused by the G2G gateway."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService
from tests.change_support import change_log
from tests.conftest import Credential, LiveServer
from tests.web.admin_support import (
    ADMIN,
    PREFIX,
    Admin,
    Token,
    make_token,
    ok,
    problem,
    token_service,
    unique,
)

SAMPLE_PATH = {"env": "test", "username": "nobody", "form_no": "1234567890"}
OPERATIONS = sorted(ADMIN.spec_operations())


def _template(path: str) -> str:
    assert path.startswith(PREFIX)
    return path[len(PREFIX) :]


def _assert_challenged(response: httpx.Response) -> None:
    """A 401 problem with a Bearer challenge (the client checked it against the spec)."""
    problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer ")


@pytest.fixture
def anonymous(server: LiveServer) -> Iterator[Admin]:
    with server.client() as client:
        yield Admin(client, None)


@pytest.mark.parametrize(("verb", "path"), OPERATIONS)
def test_every_operation_of_the_spec_refuses_a_request_without_a_token(
    anonymous: Admin, verb: str, path: str
) -> None:
    response = anonymous.call(
        verb, _template(path), path=SAMPLE_PATH, json_body={} if verb != "GET" else None
    )
    _assert_challenged(response)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sgo_this-token-was-never-issued",
        "Bearer",
        "bearer not-even-the-prefix",
        "Bearer sgo_" + "A" * 300,
        "Token sgo_x",
        "sgo_x",
    ],
)
def test_wrong_tokens_are_refused(anonymous: Admin, authorization: str) -> None:
    response = anonymous.get("/institutions", headers={"Authorization": authorization})
    _assert_challenged(response)


@pytest.mark.parametrize(("verb", "path"), OPERATIONS)
def test_a_revoked_token_is_refused_everywhere(
    server: LiveServer, revoked: Token, verb: str, path: str
) -> None:
    with server.client() as client:
        response = Admin(client, revoked).call(
            verb, _template(path), path=SAMPLE_PATH, json_body={} if verb != "GET" else None
        )
    _assert_challenged(response)


@pytest.fixture(scope="module")
def revoked(server: LiveServer) -> Token:
    token = make_token(server.engine, server.clock)
    token_service(server.engine, server.clock).revoke(token.name)
    return token


def test_revoking_takes_effect_on_the_next_request(server: LiveServer) -> None:
    token = make_token(server.engine, server.clock)
    with server.client() as client:
        caller = Admin(client, token)
        ok(caller.get("/institutions"))
        token_service(server.engine, server.clock).revoke(token.name)
        _assert_challenged(caller.get("/institutions"))


@pytest.mark.parametrize(("verb", "path"), OPERATIONS)
def test_a_g2g_basic_credential_is_not_an_operator_credential(
    anonymous: Admin, g2g_user: Credential, verb: str, path: str
) -> None:
    user = g2g_user
    basic = base64.b64encode(f"{user.username}:{user.password}".encode()).decode()
    response = anonymous.call(
        verb,
        _template(path),
        path=SAMPLE_PATH,
        json_body={} if verb != "GET" else None,
        headers={"Authorization": f"Basic {basic}"},
    )
    _assert_challenged(response)


@pytest.fixture(scope="module")
def g2g_user(store: Engine, clock: ManualClock) -> Credential:
    """A working G2G user, one per module and backend (hashing a password is deliberately slow)."""
    accounts = AccountService(store, clock, change_log(store, clock))
    institution = unique("Kurum")
    accounts.add_institution(institution)
    issued = accounts.add_user(
        username=unique("g2g"), institution=institution, env="test", methods=ALL_METHODS
    )
    return Credential(issued.username, issued.password, "test")


@pytest.mark.parametrize(
    "path",
    [
        "/services/g2g/saglik/hes/check-employee-hes-code",
        "/services/g2g/test/saglik/hes/check-employee-hes-code",
    ],
)
def test_an_operator_token_is_not_a_g2g_credential(
    server: LiveServer, operator_token: Token, path: str
) -> None:
    with server.client() as client:
        response = client.post(path, json={"hes_code": "A1S10001S1"}, headers=operator_token.header)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")


def test_an_obs_call_with_an_operator_token_is_refused(
    server: LiveServer, operator_token: Token
) -> None:
    with server.client() as client:
        response = client.get(
            "/services/g2g/test/saglik/OBS/GetOlumTarihiByTcKimlikNo",
            params={"TcKimlikNo": "76883560160"},
            headers=operator_token.header,
        )
    assert response.status_code == 500  # the ÖBS document's refusal, whatever the reason
    assert response.json()["State"] == 0


# --- paths that do not exist ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/nothing-here", "/users/test", "/death-forms/1/delete"])
def test_an_unknown_path_is_refused_before_it_is_found_missing(anonymous: Admin, path: str) -> None:
    response = anonymous.get(path, check=False)
    problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer ")


@pytest.mark.parametrize("path", ["/nothing-here", "/users/test", "/death-forms/1/delete"])
def test_an_unknown_path_is_a_404_problem_with_a_token(admin: Admin, path: str) -> None:
    problem(admin.get(path, check=False), 404)


@pytest.mark.parametrize(
    ("verb", "path", "allowed"),
    [
        ("DELETE", "/institutions", {"GET", "HEAD", "POST"}),
        ("PUT", "/users", {"GET", "HEAD", "POST"}),
        ("DELETE", "/users/test/someone", {"GET", "HEAD", "PATCH"}),
        ("GET", "/hes-codes/cancel", {"POST"}),
        ("POST", "/persons", {"GET", "HEAD", "PUT"}),
        ("PATCH", "/death-forms/1234567890", {"GET", "HEAD", "PUT"}),
        ("POST", "/audit/changes", {"GET", "HEAD"}),
    ],
)
def test_a_wrong_verb_is_a_405_problem_naming_the_allowed_ones(
    admin: Admin, verb: str, path: str, allowed: set[str]
) -> None:
    response = admin.call(verb, path, check=False)
    problem(response, 405)
    assert {v.strip() for v in response.headers["allow"].split(",")} == allowed
