"""Background work runs once for the whole service (issue 12 §1): several ``BackgroundJobs`` (one
per worker, here in one event loop) on one store run a periodic job once per interval and send
each report once, a bounded number at a time; a dead sender's reports go out when its lease runs
out."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.services.background import BackgroundJobs, PeriodicJob, ReportDelivery
from saglik.services.moi_outbox import LEASE, Destination
from saglik.store import outbox_repo
from saglik.store.schema import job_leases, moi_outbox

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
TICK = 0.01
"""Seconds between a worker's tries, so a test sees many of them in a fraction of a second."""


@pytest.fixture
def fresh(fresh_store: Engine) -> Engine:
    """The module's own store, with no report and no job lease left by an earlier test."""
    with fresh_store.begin() as conn:
        conn.execute(moi_outbox.delete())
        conn.execute(job_leases.delete())
    return fresh_store


@pytest.fixture
def bg_clock() -> ManualClock:
    return ManualClock(NOW)


class Receiver:
    """An async transport that takes ``seconds`` per report and counts every report sent."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.received: Counter[str] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, body: bytes, headers: dict[str, str]) -> bool:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.seconds)
        finally:
            self.in_flight -= 1
        self.received[json.loads(body)["report_id"]] += 1
        return True


def enqueue(engine: Engine, count: int, environment: str = "live") -> set[str]:
    ids = [f"{environment}-r{n}" for n in range(count)]
    with engine.begin() as conn:
        conn.execute(
            moi_outbox.insert(),
            [
                {
                    "created_at": NOW,
                    "environment": environment,
                    "payload": json.dumps({"report_id": i, "environment": environment}),
                    "attempts": 0,
                    "next_attempt_at": NOW,
                }
                for i in ids
            ],
        )
    return set(ids)


def undelivered(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(moi_outbox.c.delivered_at.is_(None))
        return int(conn.execute(query).scalar_one())


async def wait_for(condition: Callable[[], bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(TICK)


async def running(workers: list[BackgroundJobs], until: Callable[[], bool]) -> None:
    """Starts ``workers`` and stops them once ``until()`` holds."""
    for worker in workers:
        worker.start()
    try:
        await wait_for(until)
    finally:
        for worker in workers:
            await worker.close()


def workers_for(
    engine: Engine, clock: ManualClock, count: int, **options: object
) -> list[BackgroundJobs]:
    return [
        BackgroundJobs(engine, clock, check_seconds=TICK, poll_seconds=TICK, **options)  # type: ignore[arg-type]
        for _ in range(count)
    ]


def test_a_periodic_job_runs_once_per_interval_whatever_the_number_of_workers(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    runs: list[datetime] = []
    job = PeriodicJob("refresh", timedelta(minutes=10), lambda: runs.append(bg_clock.now()))
    workers = workers_for(fresh, bg_clock, 3, jobs=[job])

    async def scenario() -> None:
        many_tries = TICK * 30  # every worker tries the lease several times meanwhile
        for worker in workers:
            worker.start()
        try:
            await wait_for(lambda: len(runs) >= 1)
            await asyncio.sleep(many_tries)
            bg_clock.advance(timedelta(minutes=10) - timedelta(microseconds=1))
            await asyncio.sleep(many_tries)
            assert runs == [NOW]
            bg_clock.advance(timedelta(microseconds=1))
            await wait_for(lambda: len(runs) >= 2)
            await asyncio.sleep(many_tries)
            assert runs == [NOW, NOW + timedelta(minutes=10)]
        finally:
            for worker in workers:
                await worker.close()

    asyncio.run(scenario())
    with fresh.connect() as conn:
        holder = conn.execute(select(job_leases.c.holder)).scalar_one()
    assert holder in {w.holder for w in workers}
    assert len({w.holder for w in workers}) == 3


def test_a_failing_job_is_logged_without_stopping_its_loop(
    fresh: Engine, bg_clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    attempts: list[datetime] = []

    def fail() -> None:
        attempts.append(bg_clock.now())
        raise RuntimeError("personal data 12345678901 must not reach the log")

    (worker,) = workers_for(fresh, bg_clock, 1, jobs=[PeriodicJob("flaky", timedelta(0), fail)])
    asyncio.run(running([worker], lambda: len(attempts) >= 3))
    failures = [r.getMessage() for r in caplog.records if r.name == "saglik.background"]
    assert failures
    assert all(m == "flaky failed: RuntimeError" for m in failures)


def test_workers_sharing_a_store_send_each_report_once(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    ids = enqueue(fresh, 40)
    receiver = Receiver(seconds=0.005)
    reports = ReportDelivery(Destination(receiver, "secret"), concurrency=3)
    workers = workers_for(fresh, bg_clock, 3, jobs=[], reports=reports)
    # a report is received before its sender records it: stop once both are done, or the stop
    # would cancel the last record (and that report would go out again after its lease)
    asyncio.run(running(workers, lambda: set(receiver.received) == ids and undelivered(fresh) == 0))
    assert receiver.received == dict.fromkeys(ids, 1)
    assert undelivered(fresh) == 0


def test_a_worker_keeps_at_most_its_concurrency_in_flight(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    ids = enqueue(fresh, 20)
    receiver = Receiver(seconds=0.05)
    reports = ReportDelivery(Destination(receiver, "secret"), concurrency=3)
    (worker,) = workers_for(fresh, bg_clock, 1, jobs=[], reports=reports)
    asyncio.run(running([worker], lambda: set(receiver.received) == ids))
    assert receiver.most_in_flight == 3  # in parallel, but never more


def test_a_dead_senders_reports_go_out_once_its_lease_runs_out(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    ids = enqueue(fresh, 3)
    with fresh.begin() as conn:  # a worker claims two reports and dies before sending them
        outbox_repo.claim_due(conn, now=NOW, until=NOW + LEASE, token="dead", limit=2)
    receiver = Receiver()
    reports = ReportDelivery(Destination(receiver, "secret"))
    (worker,) = workers_for(fresh, bg_clock, 1, jobs=[], reports=reports)

    async def scenario() -> None:
        worker.start()
        try:
            await wait_for(lambda: len(receiver.received) == 1)
            await asyncio.sleep(TICK * 10)
            assert len(receiver.received) == 1  # the dead worker's two are still leased
            bg_clock.advance(LEASE)
            await wait_for(lambda: set(receiver.received) == ids)
        finally:
            await worker.close()

    asyncio.run(scenario())
    assert receiver.received == dict.fromkeys(ids, 1)


# --- environments (issue 14 §4) ------------------------------------------------------------------


def withheld(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).where(moi_outbox.c.withheld_at.is_not(None))
        return int(conn.execute(query).scalar_one())


def test_each_environment_goes_to_its_own_receiver_only(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    live, test = enqueue(fresh, 5), enqueue(fresh, 5, environment="test")
    ministry, sandbox = Receiver(), Receiver()
    reports = ReportDelivery(Destination(ministry, "live-key"), Destination(sandbox, "test-key"))
    workers = workers_for(fresh, bg_clock, 2, jobs=[], reports=reports)
    asyncio.run(running(workers, lambda: undelivered(fresh) == 0))
    assert set(ministry.received) == live
    assert set(sandbox.received) == test


def test_with_no_receiver_test_reports_are_marked_not_sent_and_live_ones_wait(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    enqueue(fresh, 3)
    enqueue(fresh, 4, environment="test")
    (worker,) = workers_for(fresh, bg_clock, 1, jobs=[])  # no ReportDelivery at all

    async def scenario() -> None:
        worker.start()
        try:
            await wait_for(lambda: withheld(fresh) == 4)
            await asyncio.sleep(TICK * 10)
        finally:
            await worker.close()

    asyncio.run(scenario())
    assert undelivered(fresh) == 7  # nothing was delivered
    assert withheld(fresh) == 4  # and only the test reports are settled


def test_a_slow_sandbox_receiver_does_not_hold_back_the_ministrys_reports(
    fresh: Engine, bg_clock: ManualClock
) -> None:
    live = enqueue(fresh, 4)
    enqueue(fresh, 8, environment="test")
    ministry, sandbox = Receiver(), Receiver(seconds=5)
    reports = ReportDelivery(Destination(ministry, "k1"), Destination(sandbox, "k2"))
    (worker,) = workers_for(fresh, bg_clock, 1, jobs=[], reports=reports)
    asyncio.run(running([worker], lambda: set(ministry.received) == live))
    assert sandbox.received == {}  # still on its first (slow) batch
