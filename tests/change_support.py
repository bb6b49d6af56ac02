"""A change log for tests that drive the operator services directly."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services.changes import Actor, ChangeLog, store_pseudonymizer

TEST_ACTOR = Actor("cli:test")


@lru_cache(maxsize=64)
def _pseudonymizer(engine: Engine) -> Pseudonymizer:
    """The store's, read (and its key checked) once per engine, as a server reads it once at
    start: the suite makes a change log for most tests, and the settings alone take ~0.6 ms."""
    return store_pseudonymizer(engine)


def change_log(engine: Engine, clock: Clock) -> ChangeLog:
    return ChangeLog(TEST_ACTOR, clock, _pseudonymizer(engine))
