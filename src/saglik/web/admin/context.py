"""The services one operator request works with, built for that request so that every change
(and every read of personal data) is logged under the token that made it (``token:<name>``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from saglik.domain.clock import Clock
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services.accounts import AccountService
from saglik.services.audit_queries import AuditQueries
from saglik.services.changes import Actor, ChangeLog
from saglik.services.hes import HesDataService
from saglik.services.obs import ObsRegistryService
from saglik.web.admin.auth import operator

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Services:
    accounts: AccountService
    hes: HesDataService
    obs: ObsRegistryService
    audit: AuditQueries
    clock: Clock


class ServiceFactory:
    def __init__(self, engine: Engine, clock: Clock, pseudonymizer: Pseudonymizer) -> None:
        self.engine = engine
        self.clock = clock
        self.pseudonymizer = pseudonymizer

    def of(self, request: Request) -> Services:
        changes = ChangeLog(Actor(f"token:{operator(request)}"), self.clock, self.pseudonymizer)
        return Services(
            accounts=AccountService(self.engine, self.clock, changes),
            hes=HesDataService(self.engine, self.clock, changes),
            obs=ObsRegistryService(self.engine, self.clock, changes),
            audit=AuditQueries(self.engine, changes),
            clock=self.clock,
        )


async def in_thread(work: Callable[[], T]) -> T:
    """The services are synchronous SQLAlchemy: run them off the event loop."""
    return await run_in_threadpool(work)
