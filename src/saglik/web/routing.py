"""Each G2G service answers under two base paths, one per environment (contract §3).

The routes are declared to Starlette (HES's 405 for a wrong HTTP method, the OpenAPI check) and
also answered by ``G2GDispatch`` in front of it: a G2G call is one dictionary lookup away from its
handler instead of passing Starlette's router and its two exception middlewares, which cost
about a tenth of the CPU of a HES lookup (benchmarks/README.md).

A service whose every answer has its own shape (ÖBS: the ``ServisSonucu`` envelope, contract
§5.1) also answers its own HTTP-level errors — a wrong verb, a path naming no method, an
unexpected failure — for every path it owns (``G2GService.errors``), so none of them reaches
Starlette's problem JSON, which is HES's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple, Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from saglik.web import problems

Handle = Callable[[Request, str, str], Awaitable[Response]]
"""(request, environment, method name as it appears in the path) → response."""

NO_METHOD = "/"
"""The segment handed to a service for a path that names none of its methods: a method name
never contains a slash, so the service answers it as an unknown method (404, audited)."""


class OwnHttpErrors(Protocol):
    """The HTTP-level answers of a service that answers them itself (``ObsWire``)."""

    def method(self, segment: str) -> str | None:
        """The method a path segment names, or None (the 405 is only for a method that exists)."""
        ...

    def wrong_verb(self, allow: str) -> Response:
        """405 for a verb the method does not have; ``allow`` is the ``Allow`` header's value."""
        ...

    def internal_error(self) -> Response:
        """500 for an unexpected failure, with nothing of the failure in it."""
        ...


class G2GService(NamedTuple):
    path: str
    """Below ``/services/g2g[/test]/``, e.g. ``saglik/hes``."""
    http_method: str
    handle: Handle
    errors: OwnHttpErrors | None = None
    """Set: the service owns every path whose last segment of ``path`` matches in any ASCII case
    (``saglik/obs/...``, ``saglik/OBS``), whatever the verb, and answers its HTTP-level errors
    there (contract §5). None: only its exact base paths, with the verb it serves."""


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


def allowed_verbs(http_method: str) -> tuple[str, ...]:
    """The verbs a method path answers: its own, and ``HEAD`` beside ``GET`` (as Starlette)."""
    return (http_method, "HEAD") if http_method == "GET" else (http_method,)


class _Space(NamedTuple):
    """The paths a service with its own HTTP errors owns in one environment."""

    env: str
    parent: str
    """``/services/g2g[/test]/`` and the service path but its last segment, e.g. ``…/saglik/``."""
    leaf: str
    """The last segment of the service path as documented, e.g. ``OBS``."""
    service: G2GService


def _spaces(service: G2GService) -> list[_Space]:
    parent, slash, leaf = service.path.rpartition("/")
    return [
        _Space(env, f"{prefix}{parent}{slash}", leaf, service)
        for env, prefix in ENVIRONMENT_PREFIXES
    ]


Found = tuple[str, G2GService, str]
"""(environment, service, segment) of a call the dispatch answers."""


class G2GDispatch:
    """Answers G2G calls directly and hands everything else to ``app``.

    Anything below a service's base path is that service's: a segment that names no method — a
    trailing slash, a deeper path — gets the service's own 404, never a redirect (Starlette's
    would build its ``Location`` from the caller's ``Host``). A service with its own HTTP errors
    also gets its paths in another case and every other verb on them (``_owned``)."""

    def __init__(self, app: ASGIApp, services: list[G2GService]) -> None:
        self._app = app
        self._targets: dict[tuple[str, str], tuple[str, G2GService]] = {
            (service.http_method, f"{prefix}{service.path}"): (env, service)
            for service in services
            for env, prefix in ENVIRONMENT_PREFIXES
        }
        self._bases = {base for _method, base in self._targets}
        self._spaces = [
            s for service in services if service.errors is not None for s in _spaces(service)
        ]

    def _target(self, http_method: str, path: str) -> Found | None:
        base, _, segment = path.rpartition("/")
        target = self._targets.get((http_method, base))
        if target is None:  # deeper below a base: the whole rest is the (unknown) segment
            base = next((b for b in self._bases if path.startswith(f"{b}/")), "")
            target = self._targets.get((http_method, base))
            segment = NO_METHOD
        return None if target is None else (*target, segment)

    def _owned(self, http_method: str, path: str) -> Found | Response | None:
        """A path in a service's own space that the exact table did not take: the call it makes,
        the service's 405 (a method named exactly, another verb), or None if no service owns
        it. A path that names no method is the service's 404, whatever the verb."""
        for space in self._spaces:
            if not path.startswith(space.parent):
                continue
            head, slash, rest = path[len(space.parent) :].partition("/")
            if not (head.isascii() and head.lower() == space.leaf.lower()):
                continue
            names = head == space.leaf and slash == "/" and "/" not in rest
            segment = rest if names else NO_METHOD
            allow = allowed_verbs(space.service.http_method)
            errors = space.service.errors
            if http_method not in allow and errors is not None and errors.method(segment):
                return errors.wrong_verb(", ".join(allow))
            return space.env, space.service, segment
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found: Found | Response | None = self._target(scope["method"], scope["path"])
            if found is None and self._spaces:
                found = self._owned(scope["method"], scope["path"])
            if isinstance(found, Response):
                await found(scope, receive, send)
                return
            if found is not None:
                env, service, segment = found
                try:
                    response = await service.handle(Request(scope, receive), env, segment)
                except ClientDisconnect:
                    log.info("client disconnected before its request was read")
                    return
                except Exception as exc:
                    log.error("unhandled %s", type(exc).__name__)
                    if service.errors is not None:
                        response = service.errors.internal_error()
                    else:
                        response = problems.http_problem(500, "Internal error")
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)
