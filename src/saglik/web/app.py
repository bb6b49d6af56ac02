"""Application factory: wires store, services, gateway and routes; owns start-up and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import Engine, text
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from saglik.config import Settings
from saglik.domain.clock import Clock, SystemClock
from saglik.services import passwords
from saglik.services.authn import Authenticator
from saglik.services.changes import store_pseudonymizer
from saglik.services.fixtures import REFRESH_INTERVAL, apply_hes_fixtures
from saglik.services.hes import HesQueryService
from saglik.services.moi_outbox import deliver_due
from saglik.services.obs import ObsQueryService
from saglik.services.obs_fixtures import apply_obs_fixtures
from saglik.services.throttle import GuessThrottle
from saglik.store import migrate
from saglik.store.audit_writer import GroupCommitter
from saglik.store.engine import make_engine
from saglik.web import docs, hes_routes, obs_routes, problems, security_headers
from saglik.web.admin.mount import admin_mount
from saglik.web.cors import G2GCors
from saglik.web.gateway import Gateway
from saglik.web.hes_routes import HesWire
from saglik.web.logs import AccessLogMiddleware
from saglik.web.moi_sender import http_sender
from saglik.web.obs_routes import ObsWire
from saglik.web.pipeline import Pipeline
from saglik.web.request_limits import RequestLimits
from saglik.web.routing import G2GDispatch, G2GService, environment_routes
from saglik.web.security_headers import SecurityHeaders

log = logging.getLogger("saglik.app")


async def _every(seconds: float, work: Any, name: str) -> None:
    """Runs ``work()`` forever on an interval; a failure is logged and retried, never fatal."""
    while True:
        try:
            await work()
        except Exception as exc:
            log.error("%s failed: %s", name, type(exc).__name__)
        await asyncio.sleep(seconds)


def create_app(
    settings: Settings | None = None, *, clock: Clock | None = None, engine: Engine | None = None
) -> Starlette:
    settings = settings or Settings.from_env()
    passwords.configure(settings.hash_cost)
    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url)
    pseudonymizer = store_pseudonymizer(engine, settings)
    committer = GroupCommitter(engine, max_batch=settings.audit_batch_max)
    authenticator = Authenticator(
        engine,
        poll_seconds=settings.change_poll_seconds,
        fixed_delay_seconds=settings.credential_delay_seconds,
    )
    guesses = GuessThrottle(engine, clock, poll_seconds=settings.change_poll_seconds)
    gateway = Gateway(
        authenticator,
        guesses,
        committer,
        clock,
        trusted_proxies=settings.trusted_proxies,
        refusal_flush_seconds=settings.refusal_flush_seconds,
    )
    hes_queries = HesQueryService(engine, clock, pseudonymizer)
    obs_queries = ObsQueryService(engine, pseudonymizer)
    g2g = [
        G2GService(hes_routes.SERVICE_PATH, "POST", Pipeline(HesWire(hes_queries), gateway).handle),
        G2GService(obs_routes.SERVICE_PATH, "GET", Pipeline(ObsWire(obs_queries), gateway).handle),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        committer.start()
        gateway.start()
        tasks = []

        async def refresh_fixtures() -> None:
            await asyncio.to_thread(apply_hes_fixtures, engine, clock)
            await asyncio.to_thread(apply_obs_fixtures, engine)

        tasks.append(
            asyncio.create_task(
                _every(REFRESH_INTERVAL.total_seconds(), refresh_fixtures, "fixtures")
            )
        )
        client = httpx.AsyncClient(timeout=10)
        if settings.moi_endpoint and settings.moi_secret:
            send = http_sender(client, settings.moi_endpoint)
            secret = settings.moi_secret.get_secret_value()

            async def deliver() -> None:
                await deliver_due(engine, clock, send, secret)

            tasks.append(asyncio.create_task(_every(1.0, deliver, "moi-delivery")))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.aclose()
            await gateway.close()
            await committer.close()
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
        return problems.http_problem(500, "Internal error", security_headers.PLAIN)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *(route for service in g2g for route in environment_routes(service)),
        *docs.routes(),
        admin_mount(engine, clock, pseudonymizer),
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
