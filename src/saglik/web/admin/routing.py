"""One route per operator path, whatever its verbs: Starlette answers 405 with an ``Allow``
header naming every verb of the path only when a single route holds them all."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saglik.web.admin.errors import Handler


def resource(path: str, **by_verb: Handler) -> Route:
    """``resource("/users", GET=list_users, POST=create_user)``."""
    handlers = dict(by_verb)
    if "GET" in handlers:
        handlers["HEAD"] = handlers["GET"]

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method](request)

    return Route(path, dispatch, methods=list(by_verb))
