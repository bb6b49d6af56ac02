"""Console sessions in the store: what ends one, and that they do not pile up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.services.root import ServiceRoot, build
from saglik.store.schema import console_sessions
from tests.web.admin_support import token_service, unique


def _root(store: Engine, clock: ManualClock) -> ServiceRoot:
    return build(Settings(database_url="unused"), clock=clock, engine=store)


def test_a_session_names_the_token_that_opened_it_and_ends_when_it_is_revoked(
    store: Engine, clock: ManualClock
) -> None:
    sessions = _root(store, clock).console_sessions
    name = unique("ops")
    token = token_service(store, clock).create(name)
    opened = sessions.sign_in(f"  {token}\n", "192.0.2.1")
    assert opened is not None
    found = sessions.current(opened.session_id)
    assert found is not None
    assert found.operator == name
    assert found.csrf == opened.session.csrf
    token_service(store, clock).revoke(name)
    assert sessions.current(opened.session_id) is None


def test_an_unknown_or_malformed_session_id_names_no_session(
    store: Engine, clock: ManualClock
) -> None:
    sessions = _root(store, clock).console_sessions
    for value in ("", "x", "x" * 5000, "\x00"):
        assert sessions.current(value) is None


def test_signing_in_forgets_sessions_that_have_ended(store: Engine, clock: ManualClock) -> None:
    sessions = _root(store, clock).console_sessions
    token = token_service(store, clock).create(unique("ops"))
    for _ in range(3):
        assert sessions.sign_in(token, "192.0.2.2") is not None
    clock.advance(sessions.idle + timedelta(seconds=1))
    assert sessions.sign_in(token, "192.0.2.2") is not None

    with store.connect() as conn:
        live = conn.execute(
            select(func.count())
            .select_from(console_sessions)
            .where(console_sessions.c.last_seen_at >= clock.now() - sessions.idle)
        ).scalar_one()
        total = conn.execute(select(func.count()).select_from(console_sessions)).scalar_one()
    assert total == live
