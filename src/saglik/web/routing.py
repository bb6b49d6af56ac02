"""Each G2G service answers under two base paths, one per environment (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Handle = Callable[[Request, str], Awaitable[Response]]


def environment_routes(service_path: str, handle: Handle, http_method: str) -> list[Route]:
    """``/services/g2g/<service_path>/{method}`` (live) and ``/services/g2g/test/...`` (test)."""

    def bound(env: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handle(request, env)

        return endpoint

    return [
        Route(f"/services/g2g/{service_path}/{{method}}", bound("live"), methods=[http_method]),
        Route(
            f"/services/g2g/test/{service_path}/{{method}}", bound("test"), methods=[http_method]
        ),
    ]
