"""What every command needs: settings, one engine, one clock, and one way to fail clearly."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import cache
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import Clock, SystemClock
from saglik.services.accounts import InvalidAccountError
from saglik.services.bootstrap import StoreNotMigratedError, ensure_schema
from saglik.services.hes import HesDataError
from saglik.store.accounts_repo import DuplicateError, NotFoundError
from saglik.store.engine import make_engine

console = Console()
errors = Console(stderr=True)

EXPECTED_ERRORS = (
    InvalidAccountError,
    DuplicateError,
    NotFoundError,
    HesDataError,
    StoreNotMigratedError,
)


def fail(message: str, code: int = 2) -> NoReturn:
    errors.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def engine() -> Engine:
    return make_engine(settings().database_url)


def clock() -> Clock:
    return SystemClock()


def migrated_engine() -> Engine:
    """The engine of a store at the current schema (an empty one is migrated first)."""
    try:
        ensure_schema(engine())
    except StoreNotMigratedError as exc:
        fail(str(exc))
    return engine()


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Operator mistakes become one red line and exit status 2, never a traceback."""
    try:
        yield
    except EXPECTED_ERRORS as exc:
        fail(str(exc).strip("'\""))
