"""``saglik serve``: prepare the store, then run the ASGI app under uvicorn."""

from __future__ import annotations

import signal
import socket
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from saglik.cli.context import clear_errors, clock, console, engine, fail, settings
from saglik.services import bootstrap
from saglik.services import demo as demo_service
from saglik.services.accounts import IssuedCredential
from saglik.web.logs import configure_logging

LIVE = "live"
DEMO_PERSONS = 10_000
DEMO_SEED = 1
DEMO_YEARS = 5


def _stopped_on_request(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def _check_port_free(host: str, port: int) -> None:
    """Fail before touching the store, so a first start never shows a password it cannot serve."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror}")


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
    _check_port_free(host, port)
    with clear_errors():
        credential = bootstrap.prepare(engine(), clock())
        demo_credential = None
        if demo:
            _fill_live_with_demo(demo_persons)
            demo_credential = bootstrap.ensure_demo_user(engine(), clock())
    if credential is not None:
        _show_once(credential, "Test-environment")
    if demo_credential is not None:
        _show_once(demo_credential, "Live-environment (demo)")
        console.print("  things to query: saglik demo sample", highlight=False)
    console.print(f"saglik listening on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    engine().dispose()
    # After a graceful shutdown uvicorn re-raises the signal it caught, which would end the process
    # with status 143 (SIGTERM) or a KeyboardInterrupt (SIGINT); a requested stop is a success.
    for stop_signal in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop_signal, _stopped_on_request)
    uvicorn.run(
        "saglik.web.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
        server_header=False,
        # uvicorn would otherwise trust X-Forwarded-For from loopback peers and rewrite the client
        # address before the gateway sees it; SAGLIK_TRUSTED_PROXIES alone decides (IP allow-lists)
        proxy_headers=False,
    )
