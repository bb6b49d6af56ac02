"""What every console page module works with: the signed-in operator's services, the templates,
the submitted form, and the one mapping of the services' refusals to what the operator reads.

A refusal is shown on the page that was submitted, with the status the operator API would give
(422, 404, 409), and the message the service wrote: it names what to fix, never a value sent."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import jinja2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from saglik.domain.errors import InvalidInput
from saglik.domain.obs import ISTANBUL
from saglik.services.changes import Actor
from saglik.services.console_sessions import ConsoleSession
from saglik.services.places import Places
from saglik.services.root import OperatorServices, ServiceRoot
from saglik.web.console import i18n
from saglik.web.refusals import STORE_UNAVAILABLE, refusal

log = logging.getLogger("saglik.console")

T = TypeVar("T")

SESSION = "saglik.console.session"
"""Scope key of the signed-in session (set by ``guard.ConsoleGuard``)."""
PRE_CSRF = "saglik.console.pre_csrf"
"""Scope key of the sign-in form's token, before any session exists."""

MAX_FIELDS = 200
"""Fields one console form may carry: a death form with its ten causes has under 60."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A service's refusal, as the page shows it."""

    status: int
    message: str


def session_of(request: Request) -> ConsoleSession:
    found = request.scope.get(SESSION)
    assert isinstance(found, ConsoleSession), "console pages run behind ConsoleGuard"
    return found


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("saglik.web.console", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters["when"] = i18n.when
    # a message made at run time (a service's refusal, which may quote a name with a "%" in
    # it): translated when the catalogue has it, and never %-formatted, as ``_()`` would
    env.filters["translated"] = i18n.gettext
    env.globals["provinces"] = [
        (str(plate), f"{plate:02d} {name}") for plate, name in Places.provinces()
    ]
    return env


class Console:
    def __init__(
        self,
        root: ServiceRoot,
        client_ip: Callable[[Request], str | None],
        over_tls: Callable[[Request], bool],
    ) -> None:
        self.root = root
        self.client_ip = client_ip
        """The caller's address as the gateway reads it (behind trusted proxies, their XFF)."""
        self.over_tls = over_tls
        """Whether the browser reached us over TLS: its cookies are then ``Secure``."""
        self.templates = _environment()

    def services(self, request: Request) -> OperatorServices:
        """The services as the signed-in operator: every change is logged under its name."""
        return self.root.operator(Actor(f"console:{session_of(request).operator}"))

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        i18n.use(i18n.locale_of(request))
        session = request.scope.get(SESSION)
        csrf = session.csrf if isinstance(session, ConsoleSession) else request.scope.get(PRE_CSRF)
        page = self.templates.get_template(template).render(
            {
                "request": request,
                "lang": i18n.current(),
                "operator": session.operator if isinstance(session, ConsoleSession) else None,
                "csrf_token": csrf or "",
                "path": request.url.path,
                # where the language switch returns: the query too (a console URL carries no
                # personal value), except after a POST, whose page a GET cannot show again
                "here": request.url.path
                + (
                    f"?{request.url.query}" if request.url.query and request.method == "GET" else ""
                ),
                **(context or {}),
            }
        )
        return HTMLResponse(page, status_code=status, headers=headers)

    async def form(self, request: Request) -> FormData:
        """The submitted fields (urlencoded; ``guard`` bounded the body's size)."""
        return await request.form(max_files=0, max_fields=MAX_FIELDS)

    async def attempt(self, work: Callable[[], T]) -> T | Refused:
        """Runs a service call off the event loop; a refusal comes back as ``Refused``
        (``web/refusals.py``), anything else is raised (a defect: the app answers 500)."""
        try:
            return await run_in_threadpool(work)
        except Exception as exc:
            found = refusal(exc)
            if found is None:
                raise
            if found[0] == STORE_UNAVAILABLE:
                log.error("console: store unavailable")
            return Refused(*found)


def text(form: FormData, name: str) -> str:
    """A text field, stripped; absent is empty."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def optional(form: FormData, name: str) -> str | None:
    return text(form, name) or None


def whole(value: str, max_digits: int = 9) -> int | None:
    """``value`` as a whole number if it is one written in ASCII digits ("²" is a digit to
    ``str.isdigit`` and not to ``int``), else None."""
    if value.isascii() and value.isdigit() and len(value) <= max_digits:
        return int(value)
    return None


def number(form: FormData, name: str) -> int | None:
    """An optional whole number; anything else is refused naming the field, not the value."""
    value = text(form, name)
    if not value:
        return None
    found = whole(value)
    if found is None:
        raise InvalidInput(f"{name} must be a whole number")
    return found


_LOCAL_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?")
"""What a ``datetime-local`` input sends: minutes, or seconds when its step asks for them."""
FIRST_YEAR, LAST_YEAR = 1900, 2999
"""Years outside these are typing mistakes (the operator API's bounds)."""


def moment(form: FormData, name: str) -> datetime | None:
    """A ``datetime-local`` field, read as Istanbul wall time, the time every page shows. Empty
    is None: a service then takes its clock's now, a filter has no bound."""
    value = text(form, name)
    if not value:
        return None
    try:
        if _LOCAL_TIME.fullmatch(value) is None:
            raise ValueError(value)
        local = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(i18n.N_("the time is not a valid date and time")) from None
    if not FIRST_YEAR <= local.year <= LAST_YEAR:
        raise InvalidInput(i18n.N_("the year must be between 1900 and 2999"))
    return local.replace(tzinfo=ISTANBUL).astimezone(UTC)


def checked(form: FormData, name: str) -> bool:
    return text(form, name) in {"on", "true", "1"}


def values(form: FormData, name: str) -> list[str]:
    return [v.strip() for v in form.getlist(name) if isinstance(v, str) and v.strip()]
