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

from saglik.domain.methods import UNKNOWN_METHOD
from saglik.services.authn import Principal
from saglik.store.audit_writer import AuditUnavailableError
from saglik.web.gateway import Admission, Gateway

NO_SUCH_METHOD = "no-such-method"


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
    def __init__(self, wire: Wire[Inbound], gateway: Gateway) -> None:
        self._wire = wire
        self._gateway = gateway

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
                admission = await self._gateway.admit(request, env, method, client_ip)
                if admission.denial is not None:
                    reply = Reply(wire.refused(admission), admission.denial.value)
                else:
                    assert admission.principal is not None
                    reply = wire.call(env, method, inbound, admission.principal)
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
            return wire.audit_unavailable()
        return reply.response
