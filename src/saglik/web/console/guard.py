"""In front of every console page (deny by default): the session, CSRF, and the form's size.

- A request without a live session is sent to the sign-in page; nothing behind it runs.
- Every request that may change something (any method but GET and HEAD) must carry the session's
  CSRF token, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx sends it),
  and, when the browser says where it comes from (``Origin``, ``Sec-Fetch-Site``), come from this
  origin. The sign-in form, before any session, carries a token from its own cookie.
- A form body is read here, bounded by ``MAX_FORM_BYTES``, and handed on unchanged.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from urllib.parse import parse_qs

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saglik.services.console_sessions import ConsoleSessions
from saglik.web.console.pages import PRE_CSRF, SESSION

log = logging.getLogger("saglik.console")

PREFIX = "/console"
SESSION_COOKIE = "saglik_console"
PRE_COOKIE = "saglik_console_pre"
PUBLIC = frozenset({"/sign-in", "/lang/tr", "/lang/en"})
"""Paths under the prefix that answer without a session."""
SAFE_METHODS = frozenset({"GET", "HEAD"})
MAX_FORM_BYTES = 64 * 1024
"""A console form's body; the largest, a death form with ten causes, is a few KiB."""


def refused(status: int, text: str) -> Response:
    return PlainTextResponse(text, status_code=status)


def to_sign_in(htmx: bool) -> Response:
    """htmx follows ``HX-Redirect`` with a whole page; a plain request, the redirect."""
    target = f"{PREFIX}/sign-in"
    if htmx:
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _same_origin(headers: Headers) -> bool:
    """What the browser says of where the request comes from, when it says anything: the same
    origin (the scheme is not compared, as a TLS-terminating proxy changes it)."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in {"same-origin", "none"}:
        return False
    origin = headers.get("origin")
    if origin is None:
        return True
    host = headers.get("host", "")
    return origin in {f"http://{host}", f"https://{host}"}


class ConsoleGuard:
    def __init__(self, app: ASGIApp, sessions: ConsoleSessions) -> None:
        self._app = app
        self._sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request = Request(scope)
        route = scope["path"][len(scope.get("root_path", "")) :]
        public = route in PUBLIC
        htmx = request.headers.get("hx-request") == "true"
        expected: str | None = None
        if public:
            expected = request.cookies.get(PRE_COOKIE) or None
            scope[PRE_CSRF] = expected or secrets.token_urlsafe(32)
        else:
            try:
                session = await run_in_threadpool(
                    self._sessions.current, request.cookies.get(SESSION_COOKIE, "")
                )
            except OperationalError:
                log.error("console: store unavailable")
                await refused(503, "The store is unavailable; retry later.")(scope, receive, send)
                return
            if session is None:
                await to_sign_in(htmx)(scope, receive, send)
                return
            scope[SESSION] = session
            expected = session.csrf
        if scope["method"] in SAFE_METHODS:
            await self._app(scope, receive, send)
            return
        if not _same_origin(request.headers):
            await refused(403, "Cross-site request refused.")(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await refused(413, "The form is too large.")(scope, receive, send)
            return
        sent = request.headers.get("x-csrf-token") or _form_token(request.headers, body)
        if not expected or not sent or not hmac.compare_digest(sent, expected):
            await refused(403, "The form has expired or did not come from this console.")(
                scope, receive, send
            )
            return
        await self._app(scope, _replay(body), send)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None once it passes ``MAX_FORM_BYTES``."""
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return bytes(body)  # disconnected: what came is all there is
        body += message.get("body", b"")
        if len(body) > MAX_FORM_BYTES:
            return None
        if not message.get("more_body", False):
            return bytes(body)


def _form_token(headers: Headers, body: bytes) -> str | None:
    if not headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    try:
        fields = parse_qs(body.decode("latin-1"), max_num_fields=1000)
    except ValueError:  # more fields than any console form has
        return None
    found = fields.get("csrf_token")
    return found[0] if found else None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
