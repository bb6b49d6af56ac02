"""A call that begins after a change committed, but before its worker heard the change announced
(PostgreSQL's ``NOTIFY`` takes a moment), is still decided by it: the versions are read again in
the call's read thread before it is answered (``web/pipeline.py``, ``store/change_feed.py``)."""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService
from saglik.services.bootstrap import ensure_store
from saglik.store import state
from saglik.store.change_feed import PostgresFeed
from saglik.store.engine import make_engine
from saglik.store.state import Versions
from tests.change_support import change_log
from tests.conftest import BASE_TIME, start_server
from tests.pg_support import pg_database
from tests.web.conftest import path

ADMITTED = 400  # past the gateway: the made-up code "X" gets HES's error answer


@dataclass
class Served:
    http: httpx.Client
    accounts: AccountService
    engine: Engine

    def call(self, username: str, password: str) -> int:
        response = self.http.post(
            path("live", "check-employee-hes-code"),
            json={"hes_code": "X"},
            auth=(username, password),
        )
        return response.status_code

    def add_user(self, **options: object) -> tuple[str, str]:
        institution = f"Kurum {uuid.uuid4().hex[:10]}"
        self.accounts.add_institution(institution)
        username, password = f"u{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(18)
        self.accounts.add_user(
            username=username,
            institution=institution,
            env="live",
            methods=ALL_METHODS,
            password=password,
            **options,
        )
        return username, password


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """A server on a PostgreSQL store of its own (the race is PostgreSQL's alone)."""
    with pg_database(f"saglik_confirm_{os.getpid()}_{uuid.uuid4().hex[:8]}") as url:
        engine = make_engine(url)
        ensure_store(engine)
        clock = ManualClock(BASE_TIME)
        srv, thread, base_url = start_server(engine, clock, Settings(database_url="unused"))
        with httpx.Client(base_url=base_url, timeout=10) as http:
            yield Served(http, AccountService(engine, clock, change_log(engine, clock)), engine)
        srv.should_exit = True
        thread.join(timeout=15)
        engine.dispose()


@pytest.fixture
def deaf(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the worker hears of no change: its feed answers the versions it knows."""
    with served.engine.connect() as conn:
        frozen = state.versions(conn)

    async def unheard(_feed: PostgresFeed) -> Versions:
        return frozen

    monkeypatch.setattr(PostgresFeed, "versions", unheard)
    served.call("nobody", "nothing")  # the worker takes its copy of the users now


def test_a_password_reset_holds_for_the_next_call_though_unannounced(
    served: Served, deaf: None
) -> None:
    username, password = served.add_user()
    assert served.call(username, password) == ADMITTED  # verified and cached, old version
    new = served.accounts.reset_password(username, "live")
    assert served.call(username, password) == 401
    assert served.call(username, new.password) == ADMITTED


def test_a_new_user_is_admitted_at_once_though_unannounced(served: Served, deaf: None) -> None:
    username, password = served.add_user()
    assert served.call(username, password) == ADMITTED


def test_a_withdrawn_right_holds_for_the_next_call_though_unannounced(
    served: Served, deaf: None
) -> None:
    username, password = served.add_user()
    assert served.call(username, password) == ADMITTED
    served.accounts.update_user("live", username, methods=["check-visitor-hes-code"])
    assert served.call(username, password) == 403
