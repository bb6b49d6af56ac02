"""``/admin/api``: the operator routes behind bearer authentication, as one mount of the app."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.routing import Mount, Router

from saglik.services.root import ServiceRoot
from saglik.web.admin import account_routes, audit_routes, hes_routes, obs_routes
from saglik.web.admin.auth import BearerAuth
from saglik.web.admin.context import ServiceFactory

PREFIX = "/admin/api"


def admin_mount(root: ServiceRoot) -> Mount:
    services = ServiceFactory(root)
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
    return Mount(
        PREFIX, app=router, middleware=[Middleware(BearerAuth, tokens=root.operator_tokens)]
    )
