"""The one request pipeline every G2G method goes through (contract §3):

1. read the request within its limits;
2. admit: authenticate, address, right, throttle, rate limit (``gateway.py``);
3. call the service;
4. commit the audit record;
5. answer.

A service contributes only its wire form (``Wire``): its method table, how it reads a request,
and how it renders answers and refusals. Every hardening of the pipeline is made here, once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from saglik import telemetry
from saglik.domain.methods import UNKNOWN_METHOD
from saglik.services.authn import Principal
from saglik.store.audit_writer import AuditUnavailableError
from saglik.store.read_pool import ReadPool
from saglik.store.state import Versions
from saglik.web.gateway import Admission, Gateway

NO_SUCH_METHOD = "no-such-method"
AUDIT_UNAVAILABLE = "audit-unavailable"
"""The outcome counted for a call whose audit record could not be committed (it has no row)."""


@dataclass(slots=True)
class Reply:
    """An answer and what its audit record needs."""

    response: Response
    outcome: str
    subject_refs: tuple[str, ...] = ()
    outbox_payload: str | None = None


Inbound = TypeVar("Inbound")


class Wire(Protocol[Inbound]):
    """How one G2G service speaks: everything the pipeline cannot know about it."""

    service: str
    """The audit's name for the service (``hes``, ``obs``)."""

    def method(self, segment: str) -> str | None:
        """The method a path segment names, or None."""
        ...

    async def read(self, request: Request) -> Inbound | Reply:
        """The request's input within its limits, or the answer refusing it."""
        ...

    def call(self, env: str, method: str, inbound: Inbound, principal: Principal) -> Reply:
        """Runs an admitted call and renders its answer."""
        ...

    def refused(self, admission: Admission) -> Response: ...

    def no_such_method(self) -> Response: ...

    def audit_unavailable(self) -> Response: ...


class Pipeline(Generic[Inbound]):
    def __init__(self, wire: Wire[Inbound], gateway: Gateway, reads: ReadPool) -> None:
        self._wire = wire
        self._gateway = gateway
        self._reads = reads

    async def _admitted(
        self, request: Request, env: str, method: str, client_ip: str | None, inbound: Inbound
    ) -> tuple[Admission, Reply]:
        """The gateway's decision and the answer it leads to. Where the change feed may lag
        (PostgreSQL), the versions are read again after the call's own reads; a decision made
        with older users is made again with these (at most once: a change committed after that
        read committed after the call began, and either answer is then right). Only the users'
        version counts: the locks' moves with the call's own wrong password."""
        gateway = self._gateway
        admission = await gateway.admit(request, env, method, client_ip)
        reply, current = await self._reads.run(
            lambda: self._answer(env, method, inbound, admission)
        )
        if current is not None and current.credentials != admission.credentials_version:
            admission = await gateway.admit(request, env, method, client_ip, current)
            reply, _ = await self._reads.run(lambda: self._answer(env, method, inbound, admission))
        return admission, reply

    def _answer(
        self, env: str, method: str, inbound: Inbound, admission: Admission
    ) -> tuple[Reply, Versions | None]:
        """Runs where the store's reads run (``store/read_pool.py``)."""
        if admission.denial is not None:
            reply = Reply(self._wire.refused(admission), admission.denial.value)
        else:
            assert admission.principal is not None
            reply = self._wire.call(env, method, inbound, admission.principal)
        return reply, None if admission.versions is None else self._gateway.confirm()

    async def handle(self, request: Request, env: str, segment: str) -> Response:
        started = time.perf_counter()
        wire = self._wire
        client_ip = self._gateway.client_ip(request)
        method = wire.method(segment)
        admission = Admission(None)
        if method is None:  # audited too, without the name asked (it is the caller's text)
            method, reply = UNKNOWN_METHOD, Reply(wire.no_such_method(), NO_SUCH_METHOD)
        else:
            inbound = await wire.read(request)
            if isinstance(inbound, Reply):
                reply = inbound
            else:
                admission, reply = await self._admitted(request, env, method, client_ip, inbound)
        try:
            await self._gateway.audit(
                admission=admission,
                env=env,
                service=wire.service,
                method=method,
                status=reply.response.status_code,
                outcome=reply.outcome,
                started=started,
                client_ip=client_ip,
                subject_refs=reply.subject_refs,
                outbox_payload=reply.outbox_payload,
            )
        except AuditUnavailableError:
            reply = Reply(wire.audit_unavailable(), AUDIT_UNAVAILABLE)
        telemetry.record_call(wire.service, method, reply.outcome, started)
        return reply.response
