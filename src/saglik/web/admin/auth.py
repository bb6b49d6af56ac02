"""Bearer-token authentication in front of every operator route (deny by default).

It wraps the whole ``/admin/api`` mount rather than each handler, so a route added later cannot
forget it, and a path that matches no route is refused before anyone learns it does not exist.
Only ``Authorization: Bearer`` counts: a G2G Basic credential is not an operator credential."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from saglik.services.operator_tokens import OperatorTokens
from saglik.web.admin.errors import problem, store_unavailable

OPERATOR = "saglik.operator"
"""Scope key holding the authenticated token's name for the handlers."""

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="saglik-admin"'}


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class BearerAuth:
    def __init__(self, app: ASGIApp, tokens: OperatorTokens) -> None:
        self._app = app
        self._tokens = tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        token = bearer_token(Request(scope).headers.get("authorization"))
        try:
            holder = await run_in_threadpool(self._tokens.holder, token) if token else None
        except OperationalError:
            await store_unavailable("authentication")(scope, receive, send)
            return
        if holder is None:
            response = problem(
                401, "a valid operator token is required (Authorization: Bearer)", headers=CHALLENGE
            )
            await response(scope, receive, send)
            return
        scope[OPERATOR] = holder
        await self._app(scope, receive, send)


def operator(request: Request) -> str:
    name = request.scope.get(OPERATOR)
    assert isinstance(name, str), "operator routes run behind BearerAuth"
    return name
