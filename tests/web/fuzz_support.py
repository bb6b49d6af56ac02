"""What the schemathesis runs share: the schemathesis and hypothesis configuration, the
environment a path belongs to, creating the fixed fuzzing users in a store, the conformance checks
and the once-per-operation credentials probe. Checks of what a valid request must get stay in each
test file, since the services refuse requests differently."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import hypothesis
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis import checks as st_checks
from sqlalchemy import Engine

from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService
from saglik.web import docs
from tests.change_support import change_log

if TYPE_CHECKING:
    from schemathesis.specs.openapi.schemas import OpenApiSchema

TEST_PREFIX = "/services/g2g/test/"
MAX_EXAMPLES = 40

FUZZ_SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)
"""Applied to each generated test: no deadline (a real server and password hashing), no example
database (runs are independent), every health check off (the strategies are schemathesis')."""


def env_of(path: str) -> str:
    """The environment whose credential a path takes: its test prefix, or else live."""
    return "test" if path.startswith(TEST_PREFIX) else "live"


def fuzz_schema(name: str) -> OpenApiSchema:
    """The served document ``name`` as schemathesis' source of generated requests: every
    generation mode, ``MAX_EXAMPLES`` per operation, no stateful phase."""
    config = schemathesis.Config.from_dict(
        {
            "request-timeout": 10,
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(copy.deepcopy(docs.spec(name)), config=config)


def create_fuzz_users(
    store: Engine, clock: ManualClock, credentials: dict[str, tuple[str, str]]
) -> None:
    """Environment → (username, password) as all-methods, unscoped, unlimited users of one new
    institution in ``store``."""
    accounts = AccountService(store, clock, change_log(store, clock))
    institution = f"Kurum {uuid.uuid4().hex[:10]}"
    accounts.add_institution(institution)
    for env, (username, password) in credentials.items():
        accounts.add_user(
            username=username,
            institution=institution,
            env=env,
            methods=ALL_METHODS,
            password=password,
        )


CONFORMANCE_CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
    st_checks.negative_data_rejection,
]


def ignored_auth_once(
    mount: str,
) -> Callable[[CheckContext, Response, Case], bool | None]:
    """Schemathesis' ``ignored_auth`` (re-send without and with wrong credentials; both must be
    refused), once per operation and server: a probe with a wrong password costs a deliberately
    slow hash. ``mount`` is the path prefix that separates the server from the operation."""
    probed: set[tuple[str, str]] = set()

    def check(ctx: CheckContext, response: Response, case: Case) -> bool | None:
        if not 200 <= response.status_code < 300:
            return None
        key = (response.request.url.split(mount)[0], case.operation.label)
        if key in probed:
            return None
        probed.add(key)
        return st_checks.ignored_auth(ctx, response, case)

    return check
