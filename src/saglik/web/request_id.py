"""``X-Request-Id``: one id per request, on its answer and on every log line written for it.

A caller's own id is kept when it is one header of 1–64 characters from ``A-Z a-z 0-9 . _ : -``
(what tracing ids, UUIDs and load balancers' ids are made of), so a call can be followed from the
caller's logs into ours. Anything else — too long, empty, another character, the header repeated
— is replaced by a new random id and never echoed: a header or log line cannot be forged or
split through it. The id is logged as sent, so a caller must not put personal data in it.
"""

from __future__ import annotations

import os
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saglik.web.logs import request_id

HEADER = b"x-request-id"
VALID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


def _given(scope: Scope) -> bytes | None:
    """The caller's id, if it sent exactly one valid one."""
    found = None
    for name, value in scope["headers"]:
        if name == HEADER:
            if found is not None:
                return None
            found = value
    return found if found is not None and VALID.fullmatch(found) else None


class RequestIdMiddleware:
    """Outermost, so that the access line and every answer carry the id.

    The context variable is not reset when the call returns: the server runs each request in a
    task of its own, whose context ends with it, and the 500 of an unexpected error is logged by
    Starlette's outermost layer after this middleware has returned, a line that needs the id
    most."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = _given(scope) or os.urandom(16).hex().encode()  # secrets.token_hex: twice the time
        request_id.set(rid.decode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # a new list: the one in the message may be a response object's own
                message["headers"] = [*message.get("headers", ()), (HEADER, rid)]
            await send(message)

        await self.app(scope, receive, send_with_id)
