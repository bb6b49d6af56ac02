"""Each G2G service answers under two base paths, one per environment (contract §3).

The routes are declared to Starlette (405 for a wrong HTTP method, the OpenAPI check) and also
answered by ``G2GDispatch`` in front of it: a G2G call is one dictionary lookup away from its
handler instead of passing Starlette's router and its two exception middlewares, which cost
about a tenth of the CPU of a HES lookup (benchmarks/README.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from saglik.web import problems

Handle = Callable[[Request, str, str], Awaitable[Response]]
"""(request, environment, method name as it appears in the path) → response."""


class G2GService(NamedTuple):
    path: str
    """Below ``/services/g2g[/test]/``, e.g. ``saglik/hes``."""
    http_method: str
    handle: Handle


G2G_PREFIX = "/services/g2g/"
"""Every G2G path, in both environments, starts with this."""
ENVIRONMENT_PREFIXES = (("live", G2G_PREFIX), ("test", f"{G2G_PREFIX}test/"))

log = logging.getLogger("saglik.app")


def environment_routes(service: G2GService) -> list[Route]:
    """``/services/g2g/<path>/{method}`` (live) and ``/services/g2g/test/...`` (test)."""

    def bound(env: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await service.handle(request, env, request.path_params["method"])

        return endpoint

    return [
        Route(f"{prefix}{service.path}/{{method}}", bound(env), methods=[service.http_method])
        for env, prefix in ENVIRONMENT_PREFIXES
    ]


class G2GDispatch:
    """Answers G2G calls directly and hands everything else to ``app``.

    Anything below a service's base path is that service's: a segment that names no method — a
    trailing slash, a deeper path — gets the service's own 404, never a redirect (Starlette's
    would build its ``Location`` from the caller's ``Host``)."""

    def __init__(self, app: ASGIApp, services: list[G2GService]) -> None:
        self._app = app
        self._targets: dict[tuple[str, str], tuple[str, Handle]] = {
            (service.http_method, f"{prefix}{service.path}"): (env, service.handle)
            for service in services
            for env, prefix in ENVIRONMENT_PREFIXES
        }
        self._bases = {base for _method, base in self._targets}

    def _target(self, http_method: str, path: str) -> tuple[str, Handle, str] | None:
        base, _, segment = path.rpartition("/")
        target = self._targets.get((http_method, base))
        if target is None:  # deeper below a base: the whole rest is the (unknown) segment
            base = next((b for b in self._bases if path.startswith(f"{b}/")), "")
            target = self._targets.get((http_method, base))
            segment = "/"
        return None if target is None else (*target, segment)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self._target(scope["method"], scope["path"])
            if found is not None:
                env, handle, segment = found
                try:
                    response = await handle(Request(scope, receive), env, segment)
                except ClientDisconnect:
                    log.info("client disconnected before its request was read")
                    return
                except Exception as exc:
                    log.error("unhandled %s", type(exc).__name__)
                    response = problems.http_problem(500, "Internal error")
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)
