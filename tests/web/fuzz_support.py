"""What the HES and ÖBS schemathesis runs share: the schemathesis and hypothesis configuration,
the environment a path belongs to, and creating the fixed fuzzing users in a store. The checks and
the credentials stay in each test file, since the two services refuse requests differently."""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING

import hypothesis
import schemathesis
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
