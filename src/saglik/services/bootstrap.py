"""Bringing a store to a servable state: migrated, reference data and fixtures in place, a
sandbox user to try it."""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import Engine

from saglik.domain.methods import ALL_METHODS
from saglik.services import demo
from saglik.services.accounts import IssuedCredential
from saglik.services.changes import SYSTEM
from saglik.services.fixtures import apply_hes_fixtures
from saglik.services.obs_fixtures import apply_obs_fixtures
from saglik.services.refdata import ensure_districts
from saglik.services.root import ServiceRoot
from saglik.store import accounts_repo, migrate
from saglik.store.bulk_repo import ALL_BULK_TABLES
from saglik.store.statistics import analyze

log = logging.getLogger("saglik.bootstrap")

SANDBOX_INSTITUTION = "Sandbox"
SANDBOX_USER = "sandbox"
DEMO_ENV = "live"
DEMO_INSTITUTION = "Demo"
DEMO_USER = "demo"


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


def ensure_store(engine: Engine) -> None:
    """What every command and the server need before they use a store: its schema current and
    the shipped districts in an empty district table."""
    ensure_schema(engine)
    ensure_districts(engine)


def _ensure_user(
    root: ServiceRoot, env: str, username: str, institution: str
) -> IssuedCredential | None:
    """On a store with no user in ``env``, create one with every method; else None."""
    with root.engine.connect() as conn:
        if accounts_repo.count_users(conn, env):
            return None
    accounts = root.operator(SYSTEM).accounts
    with contextlib.suppress(accounts_repo.DuplicateError):
        accounts.add_institution(institution)
    return accounts.add_user(
        username=username, institution=institution, env=env, methods=ALL_METHODS
    )


def ensure_sandbox_user(root: ServiceRoot) -> IssuedCredential | None:
    """The test environment's user, so a first start can be queried at once."""
    return _ensure_user(root, "test", SANDBOX_USER, SANDBOX_INSTITUTION)


def ensure_demo_user(root: ServiceRoot) -> IssuedCredential | None:
    """A live user for the demo population (``serve --demo``): only where the live persons are a
    demo run's and the live environment has no user yet, so no real person's data is opened to
    a credential nobody asked for."""
    if not demo.has_demo_run(root.engine, DEMO_ENV):
        return None
    return _ensure_user(root, DEMO_ENV, DEMO_USER, DEMO_INSTITUTION)


def prepare(root: ServiceRoot) -> IssuedCredential | None:
    """Before the workers start: a store whose audit key is missing fails here, once, with the
    reason (``AuditKeyError``), before anything is written to it."""
    engine = root.engine
    ensure_store(engine)
    root.pseudonymizer  # noqa: B018 (opening the key ring is the check)
    apply_hes_fixtures(engine, root.clock)
    apply_obs_fixtures(engine)
    with engine.begin() as conn:  # a new store's tables now hold rows the planner must know of
        analyze(conn, ALL_BULK_TABLES, never_analyzed=True)
    return ensure_sandbox_user(root)
