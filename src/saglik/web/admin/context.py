"""The services one operator request works with, built for that request so that every change
(and every read of personal data) is logged under the token that made it (``token:<name>``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from saglik.services.changes import Actor
from saglik.services.root import OperatorServices, ServiceRoot
from saglik.web.admin.auth import operator

T = TypeVar("T")


class ServiceFactory:
    def __init__(self, root: ServiceRoot) -> None:
        self._root = root

    def of(self, request: Request) -> OperatorServices:
        return self._root.operator(Actor(f"token:{operator(request)}"))


async def in_thread(work: Callable[[], T]) -> T:
    """The services are synchronous SQLAlchemy: run them off the event loop."""
    return await run_in_threadpool(work)
