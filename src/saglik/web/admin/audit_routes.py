"""Reading the audit trail and the change log (``/audit/...``). The subject's view takes the
clear identity number or code in the query string and compares pseudonyms only; it is the one
view here that shows whose data was touched, so it is itself logged as a read."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saglik.store.audit_repo import CallRecord
from saglik.store.changes_repo import ChangeRecord
from saglik.web.admin import reading
from saglik.web.admin.context import ServiceFactory, in_thread
from saglik.web.admin.errors import endpoint
from saglik.web.admin.models import CallsQuery, ChangesQuery, SubjectQuery
from saglik.web.admin.routing import resource
from saglik.web.admin.views import Moment, ok


class CallOut(BaseModel):
    id: int
    occurred_at: Moment
    env: str
    service: str
    method: str
    institution: str | None
    username: str | None
    status: int
    outcome: str
    latency_ms: float
    client_ip: str | None

    @classmethod
    def of(cls, call: CallRecord) -> CallOut:
        return cls.model_validate(call, from_attributes=True)


class ChangeOut(BaseModel):
    id: int
    occurred_at: Moment
    actor: str
    env: str | None
    entity: str
    action: str
    target: str | None
    subject_ref: str | None
    before: Any
    after: Any

    @classmethod
    def of(cls, change: ChangeRecord) -> ChangeOut:
        """The change with its before/after parsed back from the log's JSON."""
        return cls.model_validate(
            {
                **asdict(change),
                "before": None if change.before is None else json.loads(change.before),
                "after": None if change.after is None else json.loads(change.after),
            }
        )


class CallList(BaseModel):
    calls: list[CallOut]


class ChangeList(BaseModel):
    changes: list[ChangeOut]


class SubjectOut(BaseModel):
    institutions: list[str]
    """The institutions that queried, most recent caller first."""
    calls: list[CallOut]
    changes: list[ChangeOut]


def routes(services: ServiceFactory) -> list[Route]:
    @endpoint
    async def calls(request: Request) -> Response:
        q = reading.query(request, CallsQuery)
        audit = services.of(request).audit
        found = await in_thread(
            lambda: audit.calls(
                institution=q.institution,
                method=q.method,
                env=q.env,
                since=q.since,
                until=q.until,
                limit=q.limit,
            )
        )
        return ok(CallList(calls=[CallOut.of(c) for c in found]))

    @endpoint
    async def subject(request: Request) -> Response:
        q = reading.query(request, SubjectQuery)
        audit = services.of(request).audit
        view = await in_thread(
            lambda: audit.subject(
                identity_number=q.identity_number,
                code=q.code,
                since=q.since,
                until=q.until,
                limit=q.limit,
            )
        )
        return ok(
            SubjectOut(
                institutions=view.institutions,
                calls=[CallOut.of(c) for c in view.calls],
                changes=[ChangeOut.of(c) for c in view.changes],
            )
        )

    @endpoint
    async def changes(request: Request) -> Response:
        q = reading.query(request, ChangesQuery)
        audit = services.of(request).audit
        found = await in_thread(
            lambda: audit.changes(since=q.since, until=q.until, entity=q.entity, limit=q.limit)
        )
        return ok(ChangeList(changes=[ChangeOut.of(c) for c in found]))

    return [
        resource("/audit/calls", GET=calls),
        resource("/audit/subject", GET=subject),
        resource("/audit/changes", GET=changes),
    ]
