"""Operator tokens: create (shown once), list, revoke — what ``saglik token`` does."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from saglik.web.console.pages import Console, Refused, text


def routes(console: Console) -> list[BaseRoute]:
    async def page(request: Request, *, status: int = 200, **context: Any) -> Response:
        tokens = await console.attempt(console.services(request).tokens.list)
        listed = [] if isinstance(tokens, Refused) else tokens
        return console.render(
            request,
            "tokens.html",
            {"tokens": listed, "error": None, "created": None, "revoked": None, **context},
            status=status,
        )

    async def list_tokens(request: Request) -> Response:
        return await page(request)

    async def create(request: Request) -> Response:
        name = text(await console.form(request), "name")
        tokens = console.services(request).tokens
        made = await console.attempt(lambda: tokens.create(name))
        if isinstance(made, Refused):
            return await page(request, status=made.status, error=made.message)
        return await page(request, status=201, created={"name": name, "token": made})

    async def revoke(request: Request) -> Response:
        name = text(await console.form(request), "name")
        tokens = console.services(request).tokens
        done = await console.attempt(lambda: tokens.revoke(name))
        if isinstance(done, Refused):
            return await page(request, status=done.status, error=done.message)
        return await page(request, revoked=name)

    return [
        Route("/tokens", list_tokens, methods=["GET"]),
        Route("/tokens", create, methods=["POST"]),
        Route("/tokens/revoke", revoke, methods=["POST"]),
    ]
