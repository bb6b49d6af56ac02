"""``saglik serve``: prepare the store, then run the ASGI app under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from saglik.cli.context import clear_errors, clock, console, engine, settings
from saglik.services import bootstrap
from saglik.web.logs import configure_logging


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Serve both environments. An empty store is migrated first; a store with no test user gets
    one, whose password is printed once."""
    configure_logging(settings().log_level)
    with clear_errors():
        credential = bootstrap.prepare(engine(), clock())
    if credential is not None:
        console.print("[bold green]Test-environment user created[/] (shown once, store it now):")
        console.print(f"  username: [bold]{credential.username}[/]")
        console.print(f"  password: [bold]{credential.password}[/]", highlight=False)
    console.print(f"saglik listening on http://{host}:{port}  (docs: http://{host}:{port}/docs)")
    engine().dispose()
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
    )
