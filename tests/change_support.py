"""A change log for tests that drive the operator services directly."""

from __future__ import annotations

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.services.changes import Actor, ChangeLog, store_pseudonymizer

TEST_ACTOR = Actor("cli:test")


def change_log(engine: Engine, clock: Clock) -> ChangeLog:
    return ChangeLog(TEST_ACTOR, clock, store_pseudonymizer(engine))
