"""Bringing a store to a servable state: migrated, fixtures in place, a sandbox user to try it."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService, IssuedCredential
from saglik.services.changes import SYSTEM, ChangeLog, store_pseudonymizer
from saglik.services.fixtures import apply_hes_fixtures
from saglik.services.obs_fixtures import apply_obs_fixtures
from saglik.store import accounts_repo, migrate

log = logging.getLogger("saglik.bootstrap")

SANDBOX_INSTITUTION = "Sandbox"
SANDBOX_USER = "sandbox"


class StoreNotMigratedError(RuntimeError):
    pass


def ensure_schema(engine: Engine) -> None:
    """Migrate an empty store; refuse to touch one that holds an older schema."""
    current = migrate.current_revision(engine)
    if current is None:
        log.info("empty store: migrating to %s", migrate.head_revision())
        migrate.upgrade(engine)
    elif not migrate.is_known(current):
        raise StoreNotMigratedError(
            f"the store is at schema {current}, which this version of saglik (newest schema "
            f"{migrate.head_revision()}) does not know: a newer saglik wrote it; run that one"
        )
    elif current != migrate.head_revision():
        raise StoreNotMigratedError(
            f"the store is at schema {current}, this version needs {migrate.head_revision()}: "
            "run `saglik db upgrade` first"
        )


def ensure_sandbox_user(engine: Engine, clock: Clock) -> IssuedCredential | None:
    """On a store with no test-environment user, create one with every method; else None."""
    with engine.connect() as conn:
        if accounts_repo.count_users(conn, "test"):
            return None
    accounts = AccountService(engine, clock, ChangeLog(SYSTEM, clock, store_pseudonymizer(engine)))
    with contextlib.suppress(accounts_repo.DuplicateError):
        accounts.add_institution(SANDBOX_INSTITUTION)
    return accounts.add_user(
        username=SANDBOX_USER, institution=SANDBOX_INSTITUTION, env="test", methods=ALL_METHODS
    )


def prepare(engine: Engine, clock: Clock) -> IssuedCredential | None:
    ensure_schema(engine)
    apply_hes_fixtures(engine, clock)
    apply_obs_fixtures(engine)
    return ensure_sandbox_user(engine, clock)
