"""Schemathesis against the operator API, driven by ``openapi/admin.yaml``, with a valid token:
generated requests (valid, negative and fuzzed) never get a 5xx, every answer is documented
(status, content type, headers, body schema), requests the spec calls invalid are refused with a
4xx, and no operation answers successfully without the token.

Generated requests add institutions, users, persons and forms at random, so the run has a
server and a store of its own (one per backend) instead of the session's shared ones. Bounded:
a few examples per operation keep a backend's run well under a minute."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis import Case

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.services.refdata import import_districts
from saglik.store import tokens_repo
from saglik.web import docs
from tests.conftest import BACKENDS, BASE_TIME, LiveServer, start_server
from tests.store.backends import blank_engine
from tests.web.fuzz_support import CONFORMANCE_CHECKS, ignored_auth_once

MAX_EXAMPLES = 10
TOKEN = "sgo_fuzz-operator-token-0123456789abcdef"
"""Fixed, so generation (at collection time) can apply it; inserted by digest into the store."""

SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)

CONFIG = schemathesis.Config.from_dict(
    {
        "request-timeout": 10,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "phases": {"stateful": {"enabled": False}},
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "404", "405", "409", "413", "415", "422"]
            }
        },
    }
)


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    clock = ManualClock(BASE_TIME)
    with blank_engine(
        request.param, tmp_path_factory.mktemp("admin-fuzz"), migrated=True
    ) as engine:
        import_districts(engine)
        with engine.begin() as conn:
            digest = hashlib.sha256(TOKEN.encode()).hexdigest()
            tokens_repo.add_token(conn, "fuzz", digest, clock.now())
        settings = Settings(database_url="unused-engine-injected")
        srv, thread, base_url = start_server(engine, clock, settings)
        try:
            yield LiveServer(base_url, engine, clock)
        finally:
            srv.should_exit = True
            thread.join(timeout=15)


class OperatorToken:
    def get(self, case: Case, _ctx: Any) -> str:
        return TOKEN

    def set(self, case: Case, data: str, _ctx: Any) -> None:
        if case.headers is None:
            case.headers = {}
        case.headers["Authorization"] = f"Bearer {data}"


CHECKS = [*CONFORMANCE_CHECKS, ignored_auth_once("/admin/")]

api = schemathesis.openapi.from_dict(copy.deepcopy(docs.spec("admin")), config=CONFIG)
api.auth(refresh_interval=None)(OperatorToken)


@api.parametrize()
@SETTINGS
def test_generated_requests_conform_to_the_contract(case: Case, fuzz_server: LiveServer) -> None:
    case.call_and_validate(base_url=fuzz_server.base_url, checks=CHECKS, timeout=10)
