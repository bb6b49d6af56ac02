"""Schemathesis against the live server (a real socket, every backend), driven by the HES OpenAPI
contract: generated requests — valid ones, and negative/fuzzed ones — never get a 5xx, every answer
is documented (status, content type, headers, body schema), requests the spec calls invalid are
rejected with a 4xx, requests the spec calls valid are not refused as invalid, and no operation
answers successfully without credentials.

Both environments are exercised with a credential of their own: the test paths with a test-env
user, the live paths with a live-env user."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case
from sqlalchemy import Engine

from saglik.domain.clock import ManualClock
from saglik.domain.methods import ENVIRONMENTS
from tests.conftest import LiveServer
from tests.web.fuzz_support import (
    CONFORMANCE_CHECKS,
    FUZZ_SETTINGS,
    create_fuzz_users,
    env_of,
    fuzz_schema,
    ignored_auth_once,
)

BULK_METHODS = ("check-hes-codes", "check-hes-codes-plus")

CREDENTIALS = {env: (f"fuzz-{env}", f"fuzz-{env}-password-0123456789") for env in ENVIRONMENTS}
"""Environment → (username, password), fixed so generation (at collection time) can apply them;
the ``fuzz_users`` fixture creates these users in each backend's store."""


class EnvironmentBasicAuth:
    """Basic credentials of the environment the operation's path belongs to."""

    def get(self, case: Case, _ctx: Any) -> tuple[str, str] | None:
        if not case.operation.path.startswith("/services/"):
            return None
        return CREDENTIALS[env_of(case.operation.path)]

    def set(self, case: Case, data: tuple[str, str], _ctx: Any) -> None:
        schemathesis.auths.apply_basic_auth(case, *data)


def valid_requests_are_not_refused(ctx: CheckContext, response: Response, case: Case) -> None:
    """A body the spec calls valid, sent with valid credentials, is answered — a result, or for a
    single-code method a HES code error — never a constraint violation or another refusal.
    (Complements ``negative_data_rejection``: together they pin the request schemas to what
    the server enforces.)"""
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative or is_unexpected_http_status_case(case):
        return
    if not case.operation.path.startswith("/services/"):
        return
    if response.status_code == 200:
        return
    method = case.operation.path.rsplit("/", 1)[1]
    if response.status_code == 400 and method not in BULK_METHODS:
        body = response.json()
        if body.get("errorKey") in ("hescodenotfound", "hescodehasbeenexpired"):
            return
    raise AssertionError(
        f"A request the spec calls valid was refused: {response.status_code} "
        f"{response.content[:500]!r}\nbody sent: {case.body!r}"
    )


CHECKS = [
    *CONFORMANCE_CHECKS,
    ignored_auth_once("/services/"),
    valid_requests_are_not_refused,
]


@pytest.fixture(scope="session")
def fuzz_users(store: Engine, clock: ManualClock) -> None:
    """The ``CREDENTIALS`` users (all methods, no rate limit) in this backend's store; session
    scope, like the store, so the fixed usernames are created exactly once per store."""
    create_fuzz_users(store, clock, CREDENTIALS)


api = fuzz_schema("hes")
api.auth(refresh_interval=None)(EnvironmentBasicAuth)


@api.parametrize()
@FUZZ_SETTINGS
@pytest.mark.usefixtures("fuzz_users")
def test_generated_requests_conform_to_the_contract(case: Case, server: LiveServer) -> None:
    case.call_and_validate(base_url=server.base_url, checks=CHECKS, timeout=10)
