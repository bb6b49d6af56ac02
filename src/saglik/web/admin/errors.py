"""Every refusal of the operator API as problem JSON (the shape of ``problems.http_problem``), and
the one place that turns the services' refusals into statuses.

A ``detail`` says what to fix but never repeats a value sent: values may be identity numbers,
names or codes, and answers end up in proxies' and clients' logs."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from saglik.web import problems
from saglik.web.refusals import STORE_UNAVAILABLE, refusal

log = logging.getLogger("saglik.admin")

Handler = Callable[[Request], Awaitable[Response]]


def problem(
    status: int,
    detail: str,
    *,
    errors: Sequence[Mapping[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "type": problems.PROBLEM_WITH_MESSAGE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "message": f"error.http.{status}",
    }
    if errors is not None:
        body["errors"] = list(errors)
    return problems.problem_response(body, status, headers)


class ApiError(Exception):
    """A refusal decided in the web layer (bad body, unknown path value)."""

    def __init__(
        self, status: int, detail: str, errors: Sequence[Mapping[str, str]] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = errors

    def response(self) -> Response:
        return problem(self.status, self.detail, errors=self.errors)


def _location(loc: tuple[int | str, ...], whole: str) -> str:
    """``("causes", 0, "icd_code")`` → ``causes[0].icd_code``; no location → ``whole``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or whole


def invalid(exc: ValidationError, whole: str) -> ApiError:
    """422 naming every bad field with pydantic's message, never the value given; a rule about
    the whole (``body`` or ``query``) is named by that word."""
    errors = [
        {"field": _location(tuple(e["loc"]), whole), "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]
    fields = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return ApiError(422, f"invalid {whole}: {fields}", errors)


def store_unavailable(where: str) -> Response:
    """The store is down or locked: nothing was changed, and the same request can be retried."""
    log.error("operator API %s: store unavailable", where)
    return problem(503, "the store is unavailable; retry later")


def endpoint(handler: Handler) -> Handler:
    """Maps the services' refusals to statuses (``web/refusals.py``). Anything else is logged by
    type only (its message may hold the data being written) and answered 500, never with a
    traceback."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except ClientDisconnect:
            raise  # nobody to answer: the app logs it at INFO (web/app.py)
        except Exception as exc:
            found = refusal(exc)
            if found is None:
                log.error("operator API %s failed: %s", handler.__name__, type(exc).__name__)
                return problem(500, "Internal error")
            status, detail = found
            if status == STORE_UNAVAILABLE:
                return store_unavailable(handler.__name__)
            return problem(status, detail)

    return guarded
