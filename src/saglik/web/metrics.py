"""``GET /metrics``: the Prometheus text exposition, behind a bearer token of its own.

The token (``SAGLIK_METRICS_TOKEN``) rather than an address of its own: the service listens on one
address under granian, and the metrics' token is not an operator token, so whoever scrapes can
read counts but no personal data. Without the setting the path does not exist (404 like any
unknown path); with it, a missing or wrong token gets the operator API's 401.

Under ``saglik serve`` (``PROMETHEUS_MULTIPROC_DIR`` set) a scrape adds up every worker's files,
whichever worker answers it; without it, this process's own registry answers. The outbox backlog
is no process's count: it is read from the store at scrape time. The whole exposition is built in
a thread, off the event loop (the worker files and the backlog query are I/O).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
from collections.abc import Iterator

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saglik.store.outbox_backlog import BACKLOG_CAP, undelivered
from saglik.telemetry import MULTIPROC_DIR
from saglik.web import problems
from saglik.web.admin.auth import bearer_token

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="saglik-metrics"'}

log = logging.getLogger("saglik.metrics")


class _OutboxBacklog(Collector):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            count = undelivered(self._engine)
        except SQLAlchemyError as exc:  # the other metrics are still worth a scrape
            log.warning("outbox backlog unreadable: %s", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "saglik_moi_outbox_backlog",
            "Risky-visitor reports not yet delivered to the Ministry of Interior (read at scrape "
            f"time, counted up to {BACKLOG_CAP})",
            value=count,
        )


class _Exposition:
    def __init__(self, engine: Engine) -> None:
        if os.environ.get(MULTIPROC_DIR):
            self._counts = CollectorRegistry()
            MultiProcessCollector(self._counts)  # type: ignore[no-untyped-call]  # untyped upstream
        else:
            self._counts = REGISTRY
        self._store = CollectorRegistry()
        self._store.register(_OutboxBacklog(engine))

    def render(self) -> bytes:
        return generate_latest(self._counts) + generate_latest(self._store)


def routes(token: SecretStr | None, engine: Engine) -> list[Route]:
    if token is None:
        return []
    expected = token.get_secret_value().encode()
    exposition = _Exposition(engine)

    async def metrics(request: Request) -> Response:
        given = bearer_token(request.headers.get("authorization"))
        # the header arrives as latin-1 text; its bytes are compared in constant time
        if given is None or not hmac.compare_digest(given.encode("latin-1"), expected):
            return problems.http_problem(
                401, "a valid metrics token is required (Authorization: Bearer)", CHALLENGE
            )
        body = await asyncio.to_thread(exposition.render)
        return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return [Route("/metrics", metrics, methods=["GET"])]
