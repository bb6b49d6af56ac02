"""``/console``: the operator console's pages behind ``ConsoleGuard``, and its packaged assets."""

from __future__ import annotations

from pathlib import Path

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles

from saglik.services.root import ServiceRoot
from saglik.web.console import (
    accounts_pages,
    audit_pages,
    dashboard_pages,
    hes_pages,
    obs_pages,
    place_pages,
    session_pages,
    token_pages,
)
from saglik.web.console.guard import PREFIX, ConsoleGuard
from saglik.web.console.pages import Console
from saglik.web.gateway import Gateway

STATIC = Path(__file__).parent / "static"


def console_routes(root: ServiceRoot, gateway: Gateway) -> list[BaseRoute]:
    def over_tls(request: Request) -> bool:
        if request.url.scheme == "https":
            return True
        peer = request.client.host if request.client else None
        forwarded = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip()
        return peer is not None and gateway.is_trusted(peer) and forwarded.lower() == "https"

    console = Console(root, gateway.client_ip, over_tls)
    router = Router(
        routes=[
            *session_pages.routes(console),
            *token_pages.routes(console),
            *place_pages.routes(console),
            *accounts_pages.routes(console),
            *hes_pages.routes(console),
            *obs_pages.routes(console),
            *audit_pages.routes(console),
            *dashboard_pages.routes(console),
        ],
        redirect_slashes=False,
    )

    async def to_console(_request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=303)

    return [
        Route(PREFIX, to_console, methods=["GET"]),
        Mount(f"{PREFIX}/static", app=StaticFiles(directory=STATIC), name="console-static"),
        Mount(
            PREFIX,
            app=router,
            middleware=[Middleware(ConsoleGuard, sessions=root.console_sessions)],
        ),
    ]
