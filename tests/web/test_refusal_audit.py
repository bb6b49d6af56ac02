"""Calls that were not admitted are audited without one row each (issue 11, F8; README "Audit").

The first refusal of its kind (address, method, outcome, user named) in a minute is written at
once; the rest of that minute are counted and written as one more row, with ``repeats``, when
the minute is over or the server stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from sqlalchemy import Engine, func, select

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.store.schema import audit_events
from tests.conftest import Credential, start_server
from tests.web.conftest import last_audit_id, path

FLOOD = 300
CALLER = "192.0.2.77"
"""This test's client address (through X-Forwarded-For): other servers on the store write their
own folded refusals while it runs, from 127.0.0.1."""


def _rows_after(engine: Engine, after: int) -> list[tuple[str, int, str, int, int]]:
    with engine.connect() as conn:
        return [
            tuple(row)  # type: ignore[misc]
            for row in conn.execute(
                select(
                    audit_events.c.method,
                    audit_events.c.status,
                    audit_events.c.outcome,
                    audit_events.c.repeats,
                    audit_events.c.id,
                )
                .where(audit_events.c.id > after, audit_events.c.client_ip == CALLER)
                .order_by(audit_events.c.id)
            )
        ]


def test_a_flood_without_credentials_is_two_rows_a_minute(
    store: Engine, clock: ManualClock, make_user: Callable[..., Credential]
) -> None:
    settings = Settings(
        database_url="unused",
        trusted_proxies=("127.0.0.1/32",),
        refusal_flush_seconds=0,  # only on the stop: what is written while serving is exact
    )
    srv, thread, base_url = start_server(store, clock, settings)
    before = last_audit_id(store)
    user = make_user(env="live", methods=("check-hes-codes",))
    try:
        with httpx.Client(
            base_url=base_url, timeout=10, headers={"X-Forwarded-For": CALLER}
        ) as http:
            for n in range(FLOOD):
                auth = None if n % 2 else (user.username, user.password)  # none; not granted
                response = http.post(
                    path("live", "check-employee-hes-code"), json={"hes_code": "X"}, auth=auth
                )
                assert response.status_code in (401, 403)
            clock.advance(timedelta(minutes=1))
            for _ in range(3):  # a new minute: its first refusal is a row of its own at once
                http.post(path("live", "check-employee-hes-code"), json={})
            while_serving = _rows_after(store, before)
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
    after_stop = _rows_after(store, before)
    firsts = [
        ("check-employee-hes-code", 403, "method-not-granted", 1),
        ("check-employee-hes-code", 401, "unauthenticated", 1),
        ("check-employee-hes-code", 401, "unauthenticated", 1),
    ]
    assert [r[:4] for r in while_serving if r[3] == 1] == firsts  # written before answering
    assert [r[:4] for r in after_stop if r[3] == 1] == firsts
    folded = [r for r in after_stop if r[3] > 1]
    assert sorted(r[:4] for r in folded) == sorted(
        [
            ("check-employee-hes-code", 403, "method-not-granted", FLOOD // 2 - 1),
            ("check-employee-hes-code", 401, "unauthenticated", FLOOD // 2 - 1),
            ("check-employee-hes-code", 401, "unauthenticated", 2),
        ]
    )
    with store.connect() as conn:
        total = conn.execute(
            select(func.sum(audit_events.c.repeats)).where(
                audit_events.c.id > before, audit_events.c.client_ip == CALLER
            )
        ).scalar_one()
    assert total == FLOOD + 3


def test_a_minute_that_is_over_is_written_without_waiting_for_the_stop(
    store: Engine, clock: ManualClock
) -> None:
    settings = Settings(
        database_url="unused",
        trusted_proxies=("127.0.0.1/32",),
        refusal_flush_seconds=0.05,
    )
    srv, thread, base_url = start_server(store, clock, settings)
    before = last_audit_id(store)
    try:
        with httpx.Client(
            base_url=base_url, timeout=10, headers={"X-Forwarded-For": CALLER}
        ) as http:
            for _ in range(3):
                http.post(path("live", "check-employee-hes-code"), json={})
            time.sleep(0.3)
            assert [r[3] for r in _rows_after(store, before)] == [1]  # its minute is not over
            clock.advance(timedelta(minutes=1))
            deadline = time.monotonic() + 5
            while len(rows := _rows_after(store, before)) < 2:
                assert time.monotonic() < deadline, rows
                time.sleep(0.02)
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
    assert [r[:4] for r in rows] == [
        ("check-employee-hes-code", 401, "unauthenticated", 1),
        ("check-employee-hes-code", 401, "unauthenticated", 2),
    ]
