"""Schemathesis against the live server (a real socket, every backend), driven by the ÖBS OpenAPI
contract: generated requests — valid ones, and negative/fuzzed ones — never get a 5xx (with valid
credentials not even the documented authorization 500), every answer is documented (status,
content type, headers, body schema), requests the spec calls valid are never answered as invalid
parameters, and wrong credentials always get the documented 500, byte for byte.

ÖBS answers invalid parameters with HTTP 200 and State 0 (contract §5.1), and trims white space
around them as the original ASP.NET service does, so schemathesis' ``negative_data_rejection``
(which expects a 4xx) does not apply; negative requests are held to no-5xx and conformance.

Both environments are exercised with a credential of their own: the test paths with a test-env
user, the live paths with a live-env user."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis import checks as st_checks
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case
from sqlalchemy import Engine

from saglik.domain.clock import ManualClock
from saglik.domain.methods import ENVIRONMENTS
from saglik.domain.obs import AUTH_FAILURE_MESSAGE
from tests.conftest import LiveServer
from tests.web.fuzz_support import FUZZ_SETTINGS, create_fuzz_users, env_of, fuzz_schema

CREDENTIALS = {
    env: (f"obs-fuzz-{env}", f"obs-fuzz-{env}-password-0123456789") for env in ENVIRONMENTS
}
"""Environment → (username, password), fixed so generation (at collection time) can apply them;
the ``obs_fuzz_users`` fixture creates these users in each backend's store."""

AUTH_FAILURE_BODY = json.dumps(
    {"State": 0, "Message": AUTH_FAILURE_MESSAGE, "Result": None},
    ensure_ascii=False,
    separators=(",", ":"),
).encode()
CHECKSUM_MESSAGE = "TcKimlikNo geçerli bir T.C. Kimlik Numarası değil."
"""The one refusal of a spec-valid request: the T.C. Kimlik No check digits, which a pattern
cannot express."""


class EnvironmentBasicAuth:
    """Basic credentials of the environment the operation's path belongs to."""

    def get(self, case: Case, _ctx: Any) -> tuple[str, str]:
        return CREDENTIALS[env_of(case.operation.path)]

    def set(self, case: Case, data: tuple[str, str], _ctx: Any) -> None:
        schemathesis.auths.apply_basic_auth(case, *data)


def _basic(credential: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(":".join(credential).encode()).decode()


def no_server_error_but_the_documented_auth_failure(
    ctx: CheckContext, response: Response, case: Case
) -> None:
    """No 5xx at all with the environment's valid credential; without it (schemathesis' own
    missing/invalid ``Authorization`` scenarios) only the documented 500, byte for byte."""
    if response.status_code < 500:
        return
    sent = response.request.headers.get("Authorization")
    valid = _basic(CREDENTIALS[env_of(case.operation.path)])
    if sent != valid and response.status_code == 500 and response.content == AUTH_FAILURE_BODY:
        return
    raise AssertionError(
        f"Server error {response.status_code} "
        f"({'valid' if sent == valid else 'no valid'} credentials): {response.content[:500]!r}"
    )


def valid_requests_are_answered(ctx: CheckContext, response: Response, case: Case) -> None:
    """Parameters the spec calls valid, sent with valid credentials, get a result (State 1) or
    "not found" (State 2) — never State 0, except for a T.C. Kimlik No failing its checksum.
    Together with the contract test's blank-name agreement this pins the parameter schemas to
    what the server enforces, in the direction clients rely on."""
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative or is_unexpected_http_status_case(case):
        return
    if response.request.headers.get("Authorization") != _basic(
        CREDENTIALS[env_of(case.operation.path)]
    ):
        return  # a positive request whose credentials schemathesis took away on purpose
    if response.status_code != 200:
        raise AssertionError(f"A valid request got HTTP {response.status_code}")
    body = response.json()
    if body["State"] != 0:
        return
    if "TcKimlikNo" in (case.query or {}) and body["Message"] == CHECKSUM_MESSAGE:
        return
    raise AssertionError(
        f"A request the spec calls valid was answered as invalid: {body['Message']!r}\n"
        f"query sent: {case.query!r}"
    )


_AUTH_PROBED: set[tuple[str, str]] = set()


def wrong_credentials_get_the_documented_500(
    ctx: CheckContext, response: Response, case: Case
) -> None:
    """Once per operation and server: the same request without credentials, with a wrong
    password, and with the other environment's credential is the documented 500, byte for byte
    (every probe with wrong credentials costs a deliberately slow password hash)."""
    if response.status_code != 200:
        return
    base = response.request.url.split("/services/")[0]
    key = (base, case.operation.label)
    if key in _AUTH_PROBED:
        return
    _AUTH_PROBED.add(key)
    env = env_of(case.operation.path)
    username, password = CREDENTIALS[env]
    other = CREDENTIALS["live" if env == "test" else "test"]
    probes: list[tuple[str, tuple[str, str] | None]] = [
        ("no credentials", None),
        ("wrong password", (username, password + "x")),
        ("other environment's credential", other),
    ]
    with httpx.Client(timeout=10) as client:
        for name, auth in probes:
            probe = client.get(response.request.url, auth=auth)
            if probe.status_code != 500 or probe.content != AUTH_FAILURE_BODY:
                raise AssertionError(
                    f"{name}: expected the documented 500, got {probe.status_code} "
                    f"{probe.content[:300]!r}"
                )
            if probe.headers.get("content-type") != "application/json; charset=utf-8":
                raise AssertionError(f"{name}: content type {probe.headers.get('content-type')}")


CHECKS = [
    no_server_error_but_the_documented_auth_failure,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    valid_requests_are_answered,
    wrong_credentials_get_the_documented_500,
]


@pytest.fixture(scope="session")
def obs_fuzz_users(store: Engine, clock: ManualClock) -> None:
    """The ``CREDENTIALS`` users (all methods, unscoped, no rate limit) in this backend's store;
    session scope, like the store, so the fixed usernames are created exactly once per store."""
    create_fuzz_users(store, clock, CREDENTIALS)


api = fuzz_schema("obs")
api.auth(refresh_interval=None)(EnvironmentBasicAuth)


@api.parametrize()
@FUZZ_SETTINGS
@pytest.mark.usefixtures("obs_fuzz_users")
def test_generated_requests_conform_to_the_contract(case: Case, server: LiveServer) -> None:
    case.call_and_validate(base_url=server.base_url, checks=CHECKS, timeout=10)
