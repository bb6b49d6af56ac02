"""CORS for browser pages that call the G2G methods directly (SAGLIK_CORS_ORIGINS).

Starlette's middleware does the protocol; this wrapper decides who gets it at all. Only the G2G
paths take part (never the operator API), and only a listed origin is answered with CORS headers:
any other origin's preflight goes to the app like any OPTIONS request (405) and carries none,
where the middleware alone would still describe the allowed methods and headers to it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from saglik.web.routing import G2G_PREFIX

METHODS = ("GET", "POST")
"""ÖBS methods are GETs, HES methods POSTs."""
REQUEST_HEADERS = ("Authorization", "Content-Type")
"""Basic credentials, and HES's ``application/json`` (not a CORS-safelisted type)."""
EXPOSED_HEADERS = ("Retry-After", "X-Request-Id")
"""So that a page can honour a 429 as the service asks, and quote the id of a call it reports as
failed (the id is the page's own or a random one: it tells the page nothing else)."""
PREFLIGHT_MAX_AGE = 600


class G2GCors:
    def __init__(self, app: ASGIApp, origins: tuple[str, ...]) -> None:
        self._app = app
        self._any = "*" in origins
        self._origins = frozenset(origins)
        self._cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=METHODS,
            allow_headers=REQUEST_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=PREFLIGHT_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(G2G_PREFIX):
            origin = Headers(scope=scope).get("origin")
            if origin is not None and (self._any or origin in self._origins):
                await self._cors(scope, receive, send)
                return
        await self._app(scope, receive, send)
