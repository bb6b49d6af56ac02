"""HES routes: ``POST /services/g2g[/test]/saglik/hes/<method>`` (contract §4)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response

from saglik.domain.methods import UNKNOWN_METHOD
from saglik.services.hes import HesQueryService, SingleOutcome, Visit
from saglik.store.audit_writer import AuditUnavailableError
from saglik.web import hes_wire, problems
from saglik.web.gateway import NO_SUCH_METHOD, Admission, Denial, Gateway
from saglik.web.routing import G2GService

SERVICE_PATH = "saglik/hes"

MAX_BODY = 1 << 20
JSON = "application/json"

_DENIAL_STATUS = {
    Denial.UNAUTHENTICATED: (401, "Full authentication is required to access this resource"),
    Denial.INACTIVE: (403, "This service user is disabled"),
    Denial.IP_NOT_ALLOWED: (403, "Calls from this address are not allowed for this service user"),
    Denial.METHOD_NOT_GRANTED: (403, "This service user has no right on this method"),
    Denial.RATE_LIMITED: (429, "Rate limit exceeded for this service user"),
}


def _denial_response(admission: Admission) -> Response:
    assert admission.denial is not None
    status, detail = _DENIAL_STATUS[admission.denial]
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="saglik", charset="UTF-8"'
    if status == 429:
        headers["Retry-After"] = str(admission.retry_after)
    return problems.http_problem(status, detail, headers)


class _Handled:
    __slots__ = ("outbox", "outcome", "refs", "response")

    def __init__(
        self,
        response: Response,
        outcome: str,
        refs: tuple[str, ...] = (),
        outbox: str | None = None,
    ) -> None:
        self.response = response
        self.outcome = outcome
        self.refs = refs
        self.outbox = outbox


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_BODY: read in chunks, so a body sent without
    Content-Length is never held in memory past the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _ok(payload: Any) -> Response:
    return Response(to_json(payload), media_type=JSON)


def _render_single(outcome: SingleOutcome) -> _Handled:
    if outcome.error is not None:
        error = outcome.error
        response = problems.hes_error(error.error_key, error.title)
        return _Handled(response, error.error_key, outcome.subject_refs)
    assert outcome.result is not None
    return _Handled(_ok(hes_wire.render_result(outcome.result)), "ok", outcome.subject_refs)


class HesEndpoints:
    def __init__(self, service: HesQueryService, gateway: Gateway) -> None:
        self._service = service
        self._gateway = gateway
        self._handlers: dict[str, Callable[[str, Any, Admission], _Handled]] = {
            "check-visitor-hes-code": self._visitor,
            "check-employee-hes-code": lambda env, req, _a: self._single(env, req, plus=False),
            "check-hes-code": lambda env, req, _a: self._single(env, req, plus=False),
            "check-hes-code-plus": lambda env, req, _a: self._single(env, req, plus=True),
            "check-hes-codes": lambda env, req, _a: self._bulk(env, req, plus=False),
            "check-hes-codes-plus": lambda env, req, _a: self._bulk(env, req, plus=True),
        }
        self._adapters: dict[str, TypeAdapter[Any]] = {
            "check-visitor-hes-code": hes_wire.VISITOR,
            "check-employee-hes-code": hes_wire.SINGLE,
            "check-hes-code": hes_wire.SINGLE,
            "check-hes-code-plus": hes_wire.SINGLE,
            "check-hes-codes": hes_wire.BULK,
            "check-hes-codes-plus": hes_wire.BULK,
        }

    def service(self) -> G2GService:
        return G2GService(SERVICE_PATH, "POST", self.handle)

    async def handle(self, request: Request, env: str, method: str) -> Response:
        started = time.perf_counter()
        client_ip = self._gateway.client_ip(request)
        if method not in self._handlers:  # audited too, without the name asked
            method, admission = UNKNOWN_METHOD, Admission(None)
            handled = _Handled(problems.http_problem(404, "No such HES method"), NO_SUCH_METHOD)
        else:
            admission = await self._gateway.admit(request, env, method, client_ip)
            if admission.denial is not None:
                handled = _Handled(_denial_response(admission), admission.denial.value)
            else:
                handled = await self._run(request, env, method, admission)
        try:
            await self._gateway.audit(
                admission=admission,
                env=env,
                service="hes",
                method=method,
                status=handled.response.status_code,
                outcome=handled.outcome,
                started=started,
                client_ip=client_ip,
                subject_refs=handled.refs,
                outbox_payload=handled.outbox,
            )
        except AuditUnavailableError:
            return problems.http_problem(503, "The audit store is unavailable; try again later")
        return handled.response

    async def _run(self, request: Request, env: str, method: str, admission: Admission) -> _Handled:
        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != JSON:
            return _Handled(
                problems.http_problem(415, "Content-Type must be application/json"),
                "bad-media-type",
            )
        body = await _bounded_body(request)
        if body is None:
            return _Handled(problems.http_problem(413, "Request body over 1 MiB"), "too-large")
        try:
            parsed, field_errors = hes_wire.parse(self._adapters[method], body)
        except hes_wire.UnparseableJson:
            return _Handled(problems.http_problem(400, "The body is not valid JSON"), "bad-json")
        if field_errors:
            return _Handled(problems.constraint_violation(field_errors), "validation")
        return self._handlers[method](env, parsed, admission)

    def _single(self, env: str, req: hes_wire.CodeRequest, *, plus: bool) -> _Handled:
        return _render_single(self._service.check(env, req.hes_code, plus=plus))

    def _visitor(self, env: str, req: hes_wire.VisitorRequest, admission: Admission) -> _Handled:
        assert admission.principal is not None
        location = req.location
        visit = Visit(
            institution_id=admission.principal.institution_id,
            city=req.city,
            district=req.district,
            explicit_address=req.explicit_address,
            latitude=location.latitude if location else None,
            longitude=location.longitude if location else None,
        )
        outcome, report = self._service.check_visitor(env, req.hes_code, visit)
        handled = _render_single(outcome)
        handled.outbox = report
        return handled

    def _bulk(self, env: str, req: list[hes_wire.CodeRequest], *, plus: bool) -> _Handled:
        outcome = self._service.check_many(env, [item.hes_code for item in req], plus=plus)
        payload = {
            "success_map": {code: hes_wire.render_result(r) for code, r in outcome.success.items()},
            "unsuccess_map": outcome.failure,
        }
        return _Handled(_ok(payload), "ok", outcome.subject_refs)
