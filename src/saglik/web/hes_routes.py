"""HES routes: ``POST /services/g2g[/test]/saglik/hes/<method>`` (contract §4): the method table
and the renderers; the pipeline (``pipeline.py``) does the rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from pydantic import TypeAdapter
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response

from saglik.services.authn import Principal
from saglik.services.hes import HesQueryService, SingleOutcome, Visit
from saglik.web import hes_wire, problems
from saglik.web.bodies import bounded_body, media_type
from saglik.web.gateway import Admission, Refusal
from saglik.web.pipeline import Reply

SERVICE_PATH = "saglik/hes"

MAX_BODY = 1 << 20
JSON = "application/json"

_REFUSALS = {
    Refusal.CHALLENGE: (401, "Full authentication is required to access this resource"),
    Refusal.FORBIDDEN: (
        403,
        "These credentials may not call this method from this address, or are not in use",
    ),
    Refusal.THROTTLED: (429, "Too many failed authentications; try again later"),
    Refusal.RATE_LIMITED: (429, "Rate limit exceeded for this service user"),
    Refusal.UNAVAILABLE: (503, "The rate-limit store is unavailable; try again later"),
}
_CHALLENGE = {"WWW-Authenticate": 'Basic realm="saglik", charset="UTF-8"'}


class Inbound(NamedTuple):
    media_type: str
    body: bytes


Call = Callable[[str, Any, Principal], Reply]
"""(environment, the parsed request, the caller) → the reply."""


def _ok(payload: Any) -> Response:
    return Response(to_json(payload), media_type=JSON)


def _single(outcome: SingleOutcome) -> Reply:
    if outcome.error is not None:
        error = outcome.error
        response = problems.hes_error(error.error_key, error.title)
        return Reply(response, error.error_key, outcome.subject_refs)
    assert outcome.result is not None
    return Reply(
        _ok(hes_wire.render_result(outcome.result)),
        "ok",
        outcome.subject_refs,
        outcome.outbox_payload,
    )


class HesWire:
    service = "hes"

    def __init__(self, queries: HesQueryService) -> None:
        q = queries

        def single(*, plus: bool) -> Call:
            return lambda env, req, _p: _single(q.check(env, req.hes_code, plus=plus))

        def bulk(*, plus: bool) -> Call:
            def call(env: str, req: list[hes_wire.CodeRequest], _p: Principal) -> Reply:
                outcome = q.check_many(env, [item.hes_code for item in req], plus=plus)
                payload = {
                    "success_map": {
                        code: hes_wire.render_result(r) for code, r in outcome.success.items()
                    },
                    "unsuccess_map": outcome.failure,
                }
                return Reply(_ok(payload), "ok", outcome.subject_refs)

            return call

        def visitor(env: str, req: hes_wire.VisitorRequest, principal: Principal) -> Reply:
            location = req.location
            visit = Visit(
                institution_id=principal.institution_id,
                city=req.city,
                district=req.district,
                explicit_address=req.explicit_address,
                latitude=location.latitude if location else None,
                longitude=location.longitude if location else None,
            )
            return _single(q.check_visitor(env, req.hes_code, visit))

        self._methods: dict[str, tuple[TypeAdapter[Any], Call]] = {
            "check-visitor-hes-code": (hes_wire.VISITOR, visitor),
            "check-employee-hes-code": (hes_wire.SINGLE, single(plus=False)),
            "check-hes-code": (hes_wire.SINGLE, single(plus=False)),
            "check-hes-code-plus": (hes_wire.SINGLE, single(plus=True)),
            "check-hes-codes": (hes_wire.BULK, bulk(plus=False)),
            "check-hes-codes-plus": (hes_wire.BULK, bulk(plus=True)),
        }

    def method(self, segment: str) -> str | None:
        return segment if segment in self._methods else None

    async def read(self, request: Request) -> Inbound | Reply:
        body = await bounded_body(request, MAX_BODY)
        if body is None:
            return Reply(problems.http_problem(413, "Request body over 1 MiB"), "too-large")
        return Inbound(media_type(request), body)

    def call(self, env: str, method: str, inbound: Inbound, principal: Principal) -> Reply:
        """Media type and body are judged only for an admitted caller: a refused one learns
        nothing from how its request would have been read."""
        if inbound.media_type != JSON:
            return Reply(
                problems.http_problem(415, "Content-Type must be application/json"),
                "bad-media-type",
            )
        adapter, call = self._methods[method]
        try:
            parsed, field_errors = hes_wire.parse(adapter, inbound.body)
        except hes_wire.UnparseableJson:
            return Reply(problems.http_problem(400, "The body is not valid JSON"), "bad-json")
        if field_errors:
            return Reply(problems.constraint_violation(field_errors), "validation")
        return call(env, parsed, principal)

    def refused(self, admission: Admission) -> Response:
        assert admission.denial is not None
        refusal = admission.denial.refusal
        status, detail = _REFUSALS[refusal]
        headers: dict[str, str] = {}
        if refusal is Refusal.CHALLENGE:
            headers.update(_CHALLENGE)
        if status in (429, 503):
            headers["Retry-After"] = str(admission.retry_after)
        return problems.http_problem(status, detail, headers)

    def no_such_method(self) -> Response:
        return problems.http_problem(404, "No such HES method")

    def audit_unavailable(self) -> Response:
        return problems.http_problem(503, "The audit store is unavailable; try again later")
