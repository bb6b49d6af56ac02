"""Signing in and out, and the language switch."""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from saglik.services.console_sessions import SignInLockedError
from saglik.web.console import i18n
from saglik.web.console.guard import PRE_COOKIE, PREFIX, SESSION_COOKIE
from saglik.web.console.pages import PRE_CSRF, Console, Refused, session_of, text

YEAR = 365 * 24 * 3600


def _safe_next(target: str) -> str:
    """Only a console path: the switch must not become a redirect to elsewhere."""
    if target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return f"{PREFIX}/"


def routes(console: Console) -> list[BaseRoute]:
    sessions = console.root.console_sessions
    client_ip, secure = console.client_ip, console.over_tls

    def sign_in_page(request: Request, *, status: int = 200, error: str | None = None) -> Response:
        response = console.render(request, "sign_in.html", {"error": error}, status=status)
        response.set_cookie(
            PRE_COOKIE,
            request.scope[PRE_CSRF],
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure(request),
        )
        return response

    async def sign_in_form(request: Request) -> Response:
        return sign_in_page(request)

    async def sign_in(request: Request) -> Response:
        token = text(await console.form(request), "token")
        address = client_ip(request)
        try:
            opened = await console.attempt(lambda: sessions.sign_in(token, address))
        except SignInLockedError:
            return sign_in_page(
                request,
                status=429,
                error=i18n.gettext("Too many failed sign-ins from this address. Try again later."),
            )
        if isinstance(opened, Refused):
            return sign_in_page(request, status=opened.status, error=opened.message)
        if opened is None:
            return sign_in_page(request, status=401, error=i18n.gettext("That token is not valid."))
        response = RedirectResponse(f"{PREFIX}/", status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            opened.session_id,
            path=PREFIX,
            httponly=True,
            samesite="strict",
            secure=secure(request),
        )
        response.delete_cookie(
            PRE_COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure(request)
        )
        return response

    async def sign_out(request: Request) -> Response:
        session = session_of(request)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        await console.attempt(lambda: sessions.sign_out(cookie, session))
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(
            SESSION_COOKIE, path=PREFIX, httponly=True, samesite="strict", secure=secure(request)
        )
        return response

    def switch(locale: str) -> Callable[[Request], object]:
        async def to(request: Request) -> Response:
            response = RedirectResponse(
                _safe_next(request.query_params.get("next", "")), status_code=303
            )
            response.set_cookie(
                i18n.COOKIE,
                locale,
                max_age=YEAR,
                path=PREFIX,
                samesite="strict",
                secure=secure(request),
            )
            return response

        return to

    async def home(_request: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/dashboards", status_code=303)

    return [
        Route("/sign-in", sign_in_form, methods=["GET"]),
        Route("/sign-in", sign_in, methods=["POST"]),
        Route("/sign-out", sign_out, methods=["POST"]),
        *(Route(f"/lang/{code}", switch(code), methods=["GET"]) for code in i18n.LOCALES),
        Route("/", home, methods=["GET"]),
    ]
