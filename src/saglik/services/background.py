"""The work a worker does besides answering calls: periodic jobs and MoI report delivery.

Every worker of every machine runs one ``BackgroundJobs``, yet the service must act as one: a
periodic job runs once per interval for the whole service (whoever claims its lease in
``job_leases`` runs it), and each risky-visitor report is sent by the one worker that claimed it
(``moi_outbox.deliver_due``), to its own environment's receiver only. Blocking store calls run in
threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine

from saglik.domain.clock import Clock
from saglik.services.fixtures import REFRESH_INTERVAL, apply_hes_fixtures
from saglik.services.moi_outbox import (
    DEFAULT_CONCURRENCY,
    LIVE,
    TEST,
    Destination,
    deliver_due,
    withhold_test_reports,
)
from saglik.services.obs_fixtures import apply_obs_fixtures
from saglik.store import leases_repo

log = logging.getLogger("saglik.background")

JOB_CHECK_SECONDS = 30.0
"""How often a worker tries to take each job's lease: a job whose lease ran out (its holder
stopped, or the interval is over) runs again at most this late."""
DELIVERY_POLL_SECONDS = 1.0
"""How often a worker looks for reports due once it has sent everything that was."""


@dataclass(frozen=True)
class PeriodicJob:
    """Blocking work (run in a thread) due once per ``interval`` for the whole service."""

    name: str
    interval: timedelta
    run: Callable[[], None]


@dataclass(frozen=True)
class ReportDelivery:
    """Where risky-visitor reports go, by environment, and how many sends one worker keeps in
    flight to each receiver.

    ``live``: the Ministry of Interior; None leaves live reports waiting (the backlog shows
    them). ``test``: the sandbox receiver; None marks test reports not sent as they come due.
    Neither ever gets the other environment's reports."""

    live: Destination | None = None
    test: Destination | None = None
    concurrency: int = DEFAULT_CONCURRENCY


def fixture_refresh(engine: Engine, clock: Clock) -> PeriodicJob:
    """The test environment's fixtures, kept valid relative to the clock (contract §4.6)."""

    def run() -> None:
        apply_hes_fixtures(engine, clock)
        apply_obs_fixtures(engine)

    return PeriodicJob("fixtures", REFRESH_INTERVAL, run)


class BackgroundJobs:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        jobs: Sequence[PeriodicJob],
        *,
        reports: ReportDelivery | None = None,
        check_seconds: float = JOB_CHECK_SECONDS,
        poll_seconds: float = DELIVERY_POLL_SECONDS,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._jobs = tuple(jobs)
        self._reports = reports
        self._check_seconds = check_seconds
        self._poll_seconds = poll_seconds
        # unique per worker process and readable in job_leases: which machine and process
        self.holder = f"{socket.gethostname()[:100]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Starts each job's loop and one report loop per environment: the live one if live
        reports have somewhere to go, the test one always (it sends test reports to their
        receiver, or marks them not sent if there is none). A job is tried at once, so a worker
        that finds a job's lease free runs it on start. Each environment has a loop of its own,
        so a slow sandbox receiver never holds back the Ministry's reports."""
        loop = asyncio.get_running_loop()
        for job in self._jobs:
            self._tasks.append(
                loop.create_task(self._forever(job.name, self._check_seconds, self._job(job)))
            )
        reports = self._reports or ReportDelivery()
        for name, work in (
            ("moi-delivery", self._delivery(reports.live, LIVE, reports.concurrency)),
            ("moi-test-delivery", self._delivery(reports.test, TEST, reports.concurrency)),
        ):
            if work is not None:
                self._tasks.append(loop.create_task(self._forever(name, self._poll_seconds, work)))

    async def close(self) -> None:
        """Stops every loop. A report whose send is cut short keeps its lease and goes out again
        (from any worker) once the lease runs out; a job cut short runs again next interval."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def claim(self, job: PeriodicJob) -> bool:
        """Whether this worker runs ``job`` now: True at most once per interval in the whole
        service (blocking: call it off the loop)."""
        now = self._clock.now()
        with self._engine.begin() as conn:
            return leases_repo.claim(conn, job.name, self.holder, now=now, until=now + job.interval)

    def _job(self, job: PeriodicJob) -> Callable[[], Awaitable[None]]:
        async def attempt() -> None:
            if await asyncio.to_thread(self.claim, job):
                await asyncio.to_thread(job.run)

        return attempt

    def _delivery(
        self, destination: Destination | None, environment: str, concurrency: int
    ) -> Callable[[], Awaitable[None]] | None:
        """One environment's round: send what is due to its receiver; with none, test reports
        are marked not sent and live ones are left waiting (None: no loop)."""
        if destination is None:
            if environment != TEST:
                return None

            async def withhold() -> None:
                await asyncio.to_thread(withhold_test_reports, self._engine, self._clock)

            return withhold

        async def attempt() -> None:
            await deliver_due(
                self._engine,
                self._clock,
                destination.send,
                destination.secret,
                concurrency=concurrency,
                environment=environment,
            )

        return attempt

    @staticmethod
    async def _forever(name: str, seconds: float, work: Callable[[], Awaitable[None]]) -> None:
        """Runs ``work()`` forever, ``seconds`` apart; a failure is logged and retried, never
        fatal."""
        while True:
            try:
                await work()
            except Exception as exc:
                log.error("%s failed: %s", name, type(exc).__name__)
            await asyncio.sleep(seconds)
