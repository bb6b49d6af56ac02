"""What every command needs: settings, one engine, one clock, and one way to fail clearly."""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, NoReturn

import typer
from alembic.util import CommandError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from saglik.config import Settings, SettingsError
from saglik.domain.clock import Clock
from saglik.domain.errors import Conflict, InvalidInput, NotFound
from saglik.domain.methods import ENVIRONMENTS
from saglik.domain.pseudonym import Pseudonymizer
from saglik.services.audit_key import AuditKeyError
from saglik.services.bootstrap import StoreNotMigratedError, ensure_store
from saglik.services.changes import Actor, ChangeLog
from saglik.services.refdata import RefdataError
from saglik.services.root import OperatorServices, ServiceRoot, build
from saglik.store.engine import make_engine

console = Console()
errors = Console(stderr=True)

EXPECTED_ERRORS = (
    InvalidInput,
    NotFound,
    Conflict,
    StoreNotMigratedError,
    RefdataError,
    AuditKeyError,
)


def known_env(value: str) -> str:
    """Typer callback: data commands refuse an environment other than live or test."""
    if value not in ENVIRONMENTS:
        raise typer.BadParameter(f"must be one of {', '.join(ENVIRONMENTS)}")
    return value


def utc_moment(text: str) -> datetime:
    """An option's ISO 8601 time; without an offset it is UTC (the operator's own times are
    typed at a terminal; the service's clock, audit and change log are UTC)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            "must be an ISO 8601 time, like 2026-06-15T09:30:00+03:00"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def print_record(record: Any) -> None:
    """A record (a person, a death form) as indented JSON on standard output, times ISO 8601."""

    def iso(value: Any) -> str:
        if isinstance(value, date):  # datetimes too
            return value.isoformat()
        raise TypeError(type(value).__name__)

    print(json.dumps(record, ensure_ascii=False, indent=2, default=iso))


def fail(message: str, code: int = 2) -> NoReturn:
    # One line whatever the terminal width; the message may quote operator input, never markup.
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@cache
def settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        fail(str(exc))


@cache
def engine() -> Engine:
    try:
        return make_engine(settings().database_url)
    except (ArgumentError, NoSuchModuleError):
        # The URL may hold a password: never echo it.
        fail("SAGLIK_DATABASE_URL is not a database URL this version can use")


@cache
def root() -> ServiceRoot:
    """The same object graph a server worker builds (``services/root.py``)."""
    return build(settings(), engine=engine())


def clock() -> Clock:
    return root().clock


def _pseudonymizer() -> Pseudonymizer:
    """The pseudonymizer of the store (which the caller has had migrated: ``migrated_engine``);
    a key ring the store was not used with is one red line (exit 2), whether or not the caller
    is inside ``clear_errors``."""
    try:
        return root().pseudonymizer
    except AuditKeyError as exc:
        fail(str(exc))


def _actor() -> Actor:
    """Changes (and reads of personal data) made from the command line are logged as
    ``cli:<login name>``."""
    return Actor(f"cli:{getpass.getuser()}")


def change_log() -> ChangeLog:
    _pseudonymizer()
    return root().change_log(_actor())


def operator() -> OperatorServices:
    """The operator services of a migrated store, acting as the command line's user."""
    migrated_engine()
    _pseudonymizer()
    return root().operator(_actor())


def migrated_engine() -> Engine:
    """The engine of a store at the current schema (an empty one is migrated first), with its
    reference data."""
    try:
        ensure_store(engine())
    except StoreNotMigratedError as exc:
        fail(str(exc))
    return engine()


@contextlib.contextmanager
def clear_errors() -> Iterator[None]:
    """Operator mistakes become one red line and exit status 2, never a traceback."""
    try:
        yield
    except EXPECTED_ERRORS as exc:
        fail(str(exc))
    except CommandError as exc:
        fail(f"cannot migrate the store: {exc}")
    except OperationalError as exc:
        fail(f"the store named by SAGLIK_DATABASE_URL failed: {exc.orig}")
