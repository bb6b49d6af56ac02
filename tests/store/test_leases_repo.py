"""Leases on periodic jobs (issue 12 §1): of any number of workers claiming a job at once, one
holds it, and nobody else until its interval is over."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from saglik.store import leases_repo
from saglik.store.schema import job_leases

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=10)


@pytest.fixture
def job() -> str:
    """A job name of this test's own, so the shared store's other leases do not matter."""
    return f"job-{uuid.uuid4().hex[:12]}"


def claim(engine: Engine, job: str, holder: str, at: datetime) -> bool:
    with engine.begin() as conn:
        return leases_repo.claim(conn, job, holder, now=at, until=at + INTERVAL)


def holder_of(engine: Engine, job: str) -> tuple[str, datetime]:
    with engine.connect() as conn:
        found = conn.execute(
            select(job_leases.c.holder, job_leases.c.leased_until).where(job_leases.c.name == job)
        ).one()
    return found.holder, found.leased_until


def test_a_job_is_held_once_per_interval(store: Engine, job: str) -> None:
    assert claim(store, job, "w1", NOW)
    assert holder_of(store, job) == ("w1", NOW + INTERVAL)
    assert not claim(store, job, "w2", NOW)
    assert not claim(store, job, "w1", NOW + INTERVAL - timedelta(microseconds=1))
    assert holder_of(store, job) == ("w1", NOW + INTERVAL)
    assert claim(store, job, "w2", NOW + INTERVAL)
    assert holder_of(store, job) == ("w2", NOW + 2 * INTERVAL)


def test_jobs_are_held_apart(store: Engine, job: str) -> None:
    assert claim(store, job, "w1", NOW)
    assert claim(store, job + "-other", "w2", NOW)


def race(engine: Engine, job: str, at: datetime, claimers: int = 6) -> list[str]:
    """``claimers`` threads claim ``job`` at the same instant; returns who got it."""
    winners: list[str] = []
    start = threading.Barrier(claimers)

    def claimer(holder: str) -> None:
        start.wait()
        if claim(engine, job, holder, at):
            winners.append(holder)

    threads = [threading.Thread(target=claimer, args=(f"w{n}",)) for n in range(claimers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return winners


def test_of_many_claimers_at_once_exactly_one_holds_the_job(store: Engine, job: str) -> None:
    """The first claim ever (an insert) and a claim of a lease that ran out (an update) race
    alike: one winner each time."""
    for at in (NOW, NOW + INTERVAL, NOW + 2 * INTERVAL):
        winners = race(store, job, at)
        assert len(winners) == 1, winners
        assert holder_of(store, job) == (winners[0], at + INTERVAL)
