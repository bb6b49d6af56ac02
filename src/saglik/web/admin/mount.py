"""``/admin/api``: the operator routes behind bearer authentication, as one mount of the app."""

from __future__ import annotations

from sqlalchemy import Engine
from starlette.middleware import Middleware
from starlette.routing import Mount, Router

from saglik.domain.clock import Clock
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services.changes import SYSTEM, ChangeLog
from saglik.services.operator_tokens import OperatorTokens
from saglik.web.admin import account_routes, audit_routes, hes_routes, obs_routes
from saglik.web.admin.auth import BearerAuth
from saglik.web.admin.context import ServiceFactory

PREFIX = "/admin/api"


def admin_mount(engine: Engine, clock: Clock, pseudonymizer: Pseudonymizer) -> Mount:
    services = ServiceFactory(engine, clock, pseudonymizer)
    # checking a token changes nothing, so its change log is never written
    tokens = OperatorTokens(engine, clock, ChangeLog(SYSTEM, clock, pseudonymizer))
    # no redirect to the path with(out) a trailing slash: Starlette would build its Location from
    # the caller's Host header; such a path is a 404 like any other that names nothing
    router = Router(
        routes=[
            *account_routes.routes(services),
            *hes_routes.routes(services),
            *obs_routes.routes(services),
            *audit_routes.routes(services),
        ],
        redirect_slashes=False,
    )
    return Mount(PREFIX, app=router, middleware=[Middleware(BearerAuth, tokens=tokens)])
