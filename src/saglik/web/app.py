"""Application factory: wires store, services, gateway and routes; owns start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from saglik.config import Settings
from saglik.domain.clock import Clock
from saglik.services.background import BackgroundJobs, fixture_refresh
from saglik.services.root import build
from saglik.store import migrate
from saglik.web import docs, hes_routes, metrics, obs_routes, problems, security_headers
from saglik.web.admin.mount import admin_mount
from saglik.web.console.mount import console_routes
from saglik.web.cors import G2GCors
from saglik.web.gateway import Gateway
from saglik.web.hes_routes import HesWire
from saglik.web.logs import AccessLogMiddleware, request_id
from saglik.web.moi_sender import report_delivery
from saglik.web.obs_routes import ObsWire
from saglik.web.pipeline import Pipeline
from saglik.web.request_id import RequestIdMiddleware
from saglik.web.request_limits import RequestLimits
from saglik.web.routing import G2GDispatch, G2GService, environment_routes
from saglik.web.security_headers import SecurityHeaders

log = logging.getLogger("saglik.app")


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, engine: Engine | None = None
) -> Starlette:
    settings = settings or Settings.from_env()
    root = build(settings, clock=clock, engine=engine)
    clock, engine = root.clock, root.engine
    hes_queries, obs_queries, committer = root.hes_queries, root.obs_queries, root.committer
    gateway = Gateway(
        root.changes,
        root.authenticator,
        root.guesses,
        root.rate_limits,
        committer,
        clock,
        trusted_proxies=settings.trusted_proxies,
        refusal_flush_seconds=settings.refusal_flush_seconds,
    )
    obs_wire = ObsWire(obs_queries, root.icd_names)
    g2g = [
        G2GService(
            hes_routes.SERVICE_PATH,
            "POST",
            Pipeline(HesWire(hes_queries), gateway, root.reads).handle,
        ),
        G2GService(
            obs_routes.SERVICE_PATH,
            "GET",
            Pipeline(obs_wire, gateway, root.reads).handle,
            errors=obs_wire,  # its 404, 405 and 500 are envelopes too (contract §5.1)
        ),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        committer.start()
        await root.changes.start()
        gateway.start()
        client = httpx.AsyncClient(timeout=10)
        jobs = [fixture_refresh(engine, clock)]
        reports = report_delivery(client, settings)  # each environment to its own receiver
        background = BackgroundJobs(engine, clock, jobs, reports=reports)
        background.start()
        try:
            yield
        finally:
            await background.close()
            await client.aclose()
            await gateway.close()
            await root.changes.close()
            await committer.close()
            root.reads.close()
            hes_queries.close()
            obs_queries.close()
            log.info("shut down cleanly")

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        def check() -> str | None:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = migrate.current_revision(engine)
            return None if current == migrate.head_revision() else "schema not at head"

        try:
            problem = await asyncio.to_thread(check)
        except Exception as exc:
            problem = f"database unreachable ({type(exc).__name__})"
        if problem is None and not await root.rate_limits.reachable():
            problem = "rate-limit storage unreachable"
        if problem:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready"})

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return problems.http_problem(exc.status_code, str(exc.detail), exc.headers)

    async def client_gone(_request: Request, _exc: Exception) -> Response:
        log.info("client disconnected before its request was read")
        return Response(status_code=400)  # nobody is left to read it

    async def unexpected(_request: Request, exc: Exception) -> Response:
        log.error("unhandled %s", type(exc).__name__)
        # sent from outside every middleware: the request-id middleware cannot add its header
        rid = request_id.get()
        headers = {**security_headers.PLAIN, **({"X-Request-Id": rid} if rid else {})}
        return problems.http_problem(500, "Internal error", headers)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *metrics.routes(settings.metrics_token, engine),
        *(route for service in g2g for route in environment_routes(service)),
        *docs.routes(),
        admin_mount(root),
        *console_routes(root, gateway),
    ]
    # run under uvicorn (the tests do, and one may), its own access line would carry the query
    # string, where ÖBS sends identity numbers and names; AccessLogMiddleware is the access log
    logging.getLogger("uvicorn.access").disabled = True
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            HTTPException: http_error,
            ClientDisconnect: client_gone,
            Exception: unexpected,
        },
    )
    app.state.engine = engine
    app.state.clock = clock
    app.router.redirect_slashes = False  # its Location would be built from the caller's Host
    app.add_middleware(G2GDispatch, services=g2g)
    if settings.cors_origins:  # outside the dispatch, which answers G2G calls itself
        app.add_middleware(G2GCors, origins=settings.cors_origins)
    app.add_middleware(RequestLimits, body_seconds=settings.body_timeout_seconds)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(AccessLogMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: the access line carries the id
    return app


def serve_app() -> Starlette:
    """The factory each ``saglik serve`` worker (granian) builds its app with.

    Every worker process is a fresh interpreter, so each configures its own logs here."""
    from saglik.web.logs import configure_logging

    settings = Settings.from_env()
    configure_logging(settings.log_level)
    app = create_app(settings)
    # Everything built so far lives as long as the worker: keep the collector from rescanning it
    # on every full collection (the tail of the HES latency under load, benchmarks/README.md).
    gc.freeze()
    return app
