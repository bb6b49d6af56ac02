"""``saglik serve``: prepare the store, then run the ASGI app under granian.

granian rather than uvicorn because it bounds, by itself, what a client can hold: a deadline for
a request's headers (uvicorn has none: a client sending half a request line kept its socket
forever), a size limit on the header block (none with httptools), and a cap on the connections a
worker holds (uvicorn accepts until the process runs out of descriptors). The figures that
compare the two are in ``benchmarks/README.md``; the limits are listed in the README, "Slow, idle
and oversized clients".
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import resource
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from granian import Granian
from granian.constants import HTTPModes, Interfaces, Loops
from granian.http import HTTP1Settings
from granian.log import LogLevels
from granian.server.common import AbstractServer
from prometheus_client import multiprocess
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saglik.cli.context import clear_errors, clock, console, engine, fail, root, settings
from saglik.services import bootstrap
from saglik.services import demo as demo_service
from saglik.services.accounts import IssuedCredential
from saglik.services.rate_limits import is_shared
from saglik.telemetry import MULTIPROC_DIR
from saglik.web.logs import configure_logging
from saglik.web.request_limits import MAX_HEADER_BYTES

LIVE = "live"
DEMO_PERSONS = 10_000
DEMO_SEED = 1
DEMO_YEARS = 5
APP_FACTORY = "saglik.web.app:serve_app"
HEADER_DEADLINE_SECONDS = 10
"""A request's line and headers must be in within this time; so must the next request's on a
kept-alive connection, so an idle connection is closed after it too."""
SHUTDOWN_MARGIN_SECONDS = 10
"""On SIGTERM/SIGINT a worker finishes what it has in hand (a request's body may take the body
deadline) and is killed if it is still busy this long after that."""
FD_RESERVE = 256
"""Descriptors a worker needs besides its connections (store files, the event loop, pipes),
with room to spare."""

log = logging.getLogger("saglik.serve")


def _check_port_free(host: str, port: int) -> None:
    """Fail before touching the store, so a first start never shows a password it cannot serve."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")


def _connections_per_worker(wanted: int) -> int:
    """``wanted``, or fewer if the open-file limit leaves no room for them: a worker out of
    descriptors accepts nobody at all, well-behaved clients included (issue 11, F1). The soft
    limit is first raised as far as the hard one allows; workers inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + FD_RESERVE
    if soft == resource.RLIM_INFINITY:
        return wanted
    if soft < needed and (hard == resource.RLIM_INFINITY or soft < hard):
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return max(1, min(wanted, soft - FD_RESERVE))


def _unnamed(app: ASGIApp) -> ASGIApp:
    """granian sends ``server: granian`` with every answer unless the app names a server itself,
    and has no switch to leave the header out (its issue 594): an empty one tells a prober
    nothing about what runs here."""

    async def unnamed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_unnamed(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"server", b"")]}
            await send(message)

        await app(scope, receive, send_unnamed)

    return unnamed


def _marked_dead_on_shutdown(app: ASGIApp) -> ASGIApp:
    """A worker that stops takes its live gauges (the audit queue depth) out of the sums a scrape
    makes; its counters stay in them."""

    async def marking(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await app(scope, receive, send)
            return

        async def send_marking(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
            await send(message)

        await app(scope, receive, send_marking)

    return marking


def _worker_app() -> ASGIApp:
    """What each worker process serves (imported there: the other commands need no web app)."""
    from saglik.web.app import serve_app

    return _unnamed(_marked_dead_on_shutdown(serve_app()))


@contextlib.contextmanager
def _worker_metrics() -> Iterator[None]:
    """The directory where the workers keep their counts (prometheus-client's multiprocess mode),
    named to them in PROMETHEUS_MULTIPROC_DIR. A directory the variable already names (a systemd
    RuntimeDirectory, say; it must exist, or prometheus-client fails as it is imported) is emptied
    of an earlier run's counts, which would otherwise be added to this one's; without it a new one
    is made, and removed when the server stops. Mode 0700: nobody else reads the counts or plants
    a file that a scrape would add up."""
    given = os.environ.get(MULTIPROC_DIR)
    try:
        if given:
            path = Path(given)
            path.chmod(0o700)
            for stale in path.glob("*.db"):
                stale.unlink()
        else:
            path = Path(tempfile.mkdtemp(prefix="saglik-metrics-"))  # mode 0700
    except OSError as exc:
        fail(f"cannot prepare the metrics directory {given or 'in TMPDIR'}: {exc.strerror}")
    os.environ[MULTIPROC_DIR] = str(path)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(path, ignore_errors=True)


def _granian_logs() -> dict[str, Any]:
    """granian's own lines ("Started worker-1", errors) go through the root logger, so they are
    JSON lines on stderr like every other; its stdout handlers are not made at all."""
    return {"formatters": {}, "handlers": {}, "loggers": {"_granian": {"propagate": True}}}


def _server(host: str, port: int, workers: int, connections: int) -> AbstractServer[Any]:
    return Granian(
        APP_FACTORY,
        address=host,
        port=port,
        interface=Interfaces.ASGI,  # with the lifespan: start-up and "shut down cleanly"
        workers=workers,
        http=HTTPModes.http1,  # what G2G clients speak; no h2c and its 16 MiB header lists
        websockets=False,
        loop=Loops.uvloop,  # granian[uvloop]: less CPU a request than asyncio's (benchmarks/)
        backpressure=connections,  # per worker; granian stops accepting at the cap
        http1_settings=HTTP1Settings(
            header_read_timeout=HEADER_DEADLINE_SECONDS * 1000,
            keep_alive=True,
            max_buffer_size=MAX_HEADER_BYTES,  # a fuller header block is refused with 431
        ),
        # no access log: query strings carry identity numbers (AccessLogMiddleware writes one
        # without them); no proxy headers: SAGLIK_TRUSTED_PROXIES alone decides the client
        # address, and granian reads none
        log_access=False,
        log_level=LogLevels.notset,  # the root logger's level (SAGLIK_LOG_LEVEL) decides
        log_dictconfig=_granian_logs(),
        workers_kill_timeout=int(settings().body_timeout_seconds) + SHUTDOWN_MARGIN_SECONDS,
    )


def _fill_live_with_demo(persons: int) -> None:
    """Only an empty live environment: a store with real (or earlier demo) persons is never
    mixed with a new population, whatever the day. The one line goes to the terminal only:
    the change log keeps the run."""
    if demo_service.has_persons(engine(), LIVE):
        message = "demo population: the live environment already holds persons, none generated"
    else:
        summary = demo_service.generate(
            engine(), clock(), persons=persons, years=DEMO_YEARS, seed=DEMO_SEED, env=LIVE
        )
        message = summary.line()
    console.print(message, highlight=False, soft_wrap=True)


def _show_once(credential: IssuedCredential, whose: str) -> None:
    console.print(f"[bold green]{whose} user created[/] (shown once, store it now):")
    console.print(f"  username: [bold]{credential.username}[/]")
    console.print(f"  password: [bold]{credential.password}[/]", highlight=False)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Before serving, fill an empty live environment with a synthetic demo population "
            "(seed 1, deaths over 5 years; see `saglik demo generate`) to try the live methods on. "
            "A live environment that already holds persons is left as it is.",
        ),
    ] = False,
    demo_persons: Annotated[
        int, typer.Option("--demo-persons", min=1, help="Persons in the --demo population.")
    ] = DEMO_PERSONS,
) -> None:
    """Serve both environments. An empty store is migrated first; a store with no test user gets
    one, whose password is printed once. With --demo, an empty live environment is first given a
    synthetic population (a one-line summary is printed; nothing personal) and, if the live
    environment has no user, a demo user whose password is printed once."""
    configure_logging(settings().log_level)
    if workers > 1 and not is_shared(settings().rate_limit_storage):
        fail(
            f"--workers {workers} needs SAGLIK_RATE_LIMIT_STORAGE=redis://HOST:PORT/DB: with "
            "memory:// each worker would count users' rate limits on its own"
        )
    _check_port_free(host, port)
    with clear_errors():
        credential = bootstrap.prepare(root())
        demo_credential = None
        if demo:
            _fill_live_with_demo(demo_persons)
            demo_credential = bootstrap.ensure_demo_user(root())
    if credential is not None:
        _show_once(credential, "Test-environment")
    if demo_credential is not None:
        _show_once(demo_credential, "Live-environment (demo)")
        console.print("  things to query: saglik demo sample", highlight=False)
    wanted = settings().max_connections
    connections = _connections_per_worker(wanted)
    if connections < wanted:
        log.warning(
            "connections per worker lowered to fit the open-file limit (ulimit -n)",
            extra={"fields": {"connections": connections, "configured": wanted}},
        )
    base = f"http://{host}:{port}"
    # soft_wrap: a line a script or a test reads whole, whatever the terminal's width
    console.print(f"saglik listening on {base}  (docs: {base}/docs)", soft_wrap=True)
    console.print(f"console: {base}/console  (token: saglik token create NAME)", soft_wrap=True)
    engine().dispose()
    # Each worker a fresh interpreter, not a fork of this one: this process has imported
    # prometheus_client before the metrics directory existed, and the library picks its
    # multiprocess mode once, at import.
    multiprocessing.set_start_method("spawn", force=True)
    # granian stops on SIGTERM/SIGINT itself: each worker finishes its connections and runs the
    # lifespan shutdown, then serve() returns and the process exits 0
    with _worker_metrics():
        _server(host, port, workers, connections).serve(
            target_loader=_worker_app, wrap_loader=False
        )
