"""What the query commands (``saglik hes check``, ``saglik obs deaths|lookup|death-date``) share.

They are clients of the G2G wire, built on :mod:`saglik.client`: they never open the store, so
they work the same against a saglik server and against the Ministry's services. Credentials come
only from :func:`saglik.client.load_credentials` (environment or a 0600 file): an option would put
the password in the process list and the shell history.

Failures map to exit statuses by *who has to act*, so a script can tell them apart: the data
(1), the person running the command (2), the service's administrator (3), nobody yet — try again
later (4).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import re
from collections.abc import Iterator
from typing import NoReturn

import httpx

from saglik.cli.context import fail
from saglik.client import (
    ConfigError,
    Credentials,
    InvalidCode,
    NotAuthenticated,
    ObsAuthorizationFailed,
    ObsInvalid,
    ObsNotFound,
    PermissionDenied,
    RequestInvalid,
    SaglikClientError,
    load_credentials,
)

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3
EXIT_UNAVAILABLE = 4

CREDENTIALS_HELP = """Credentials are never options (every user of the machine can read a command
line): SAGLIK_CLIENT_USERNAME and SAGLIK_CLIENT_PASSWORD, with SAGLIK_CLIENT_BASE_URL (the URL
right before /hes/ or /OBS/, e.g. http://127.0.0.1:8080/services/g2g/test/saglik) or
SAGLIK_CLIENT_ENV=live|test (the local sandbox on port 8080). What the environment leaves out is
read from the TOML file named by SAGLIK_CLIENT_CONFIG (default ~/.config/saglik/client.toml;
keys base_url or env, username, password), which must be mode 0600. Without any base URL the
sandbox's test environment is used."""

EXIT_HELP = """Exit status: 0 {ok}; 1 {not_found}; 2 a usage error or no usable credentials;
3 the service refused the credentials or the method (HES 401/403, ÖBS HTTP 500); 4 the service
could not answer (unreachable, 5xx, still rate limited after retries, an answer outside the
contract)."""


def command_help(text: str, ok: str, not_found: str) -> str:
    """``text`` and the paragraphs every query command's --help ends with, each paragraph on
    one line so that the help is wrapped to the terminal, not to this file's line length."""
    full = "\n\n".join((text, CREDENTIALS_HELP, EXIT_HELP.format(ok=ok, not_found=not_found)))
    return "\n\n".join(" ".join(p.split()) for p in full.split("\n\n"))


class Output(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class RecordOutput(enum.StrEnum):
    """One record has no rows to put in a CSV: a field/value table, or JSON."""

    table = "table"
    json = "json"


_USERINFO = re.compile(r"://[^/@\s]*@")


def _scrub(message: str) -> str:
    # A base URL refused for its shape is quoted back; if it carried user:password@, drop it.
    return _USERINFO.sub("://***@", message)


def credentials() -> Credentials:
    """The service user the command acts as, or one red line naming where credentials go."""
    # ÖBS parameters (identity numbers, names) travel in query strings, which httpx logs at
    # INFO: whatever logging a caller set up, those lines are never emitted by this process.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        return load_credentials()
    except ConfigError as exc:
        message = _scrub(exc.message)
        if "SAGLIK_CLIENT_USERNAME" not in message:
            message += "; or set SAGLIK_CLIENT_USERNAME and SAGLIK_CLIENT_PASSWORD"
        fail(message, EXIT_USAGE)


def _refused(exc: SaglikClientError) -> NoReturn:
    fail(f"the service refused us: {exc.message}", EXIT_REFUSED)


@contextlib.contextmanager
def service_errors() -> Iterator[None]:
    """Every client failure becomes one red line and the exit status of its kind.

    The client's messages name the method and the HTTP status, never the password, an identity
    number or a name, so they are shown as they are.
    """
    try:
        yield
    except (NotAuthenticated, PermissionDenied, ObsAuthorizationFailed) as exc:
        _refused(exc)
    except ObsNotFound as exc:
        fail(f"not found: {exc.message}", EXIT_NOT_FOUND)
    except ObsInvalid as exc:
        fail(f"the service refused the parameters: {exc.message}", EXIT_NOT_FOUND)
    except (RequestInvalid, InvalidCode) as exc:
        fail(exc.message, EXIT_USAGE)
    except SaglikClientError as exc:
        fail(exc.message, EXIT_UNAVAILABLE)
    except httpx.InvalidURL:
        fail("SAGLIK_CLIENT_BASE_URL is not a URL the client can use", EXIT_USAGE)
