"""What no server bounds exactly: a request body's arrival time, and the header block's size.

The server (granian, ``saglik serve``) closes a connection whose headers are not complete within
its header deadline, but once the headers are in, nothing limits how long the body may take: a
client announcing a body and sending it a byte a minute would hold its connection, a slot of the
worker's connection cap and the request's coroutine for as long as it liked. granian also refuses
a header block that fills its read buffer, but one read can carry the buffer past its size, so a
block somewhat over the limit can still reach the app; counted here, the limit is exact whatever
server runs the app.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from saglik.web.problems import http_problem

MAX_HEADER_BYTES = 64 * 1024
"""The request line and the header fields together, as sent on the wire (README)."""

_DISCONNECT: Message = {"type": "http.disconnect"}


def header_bytes(scope: Scope) -> int:
    """The size of the request line and header fields as an HTTP/1.1 client sends them."""
    target = len(scope.get("raw_path") or scope["path"].encode())
    if scope["query_string"]:
        target += 1 + len(scope["query_string"])
    request_line = len(scope["method"]) + 1 + target + len(" HTTP/1.1\r\n")
    fields = sum(len(name) + len(value) + 4 for name, value in scope["headers"])
    return request_line + fields + 2


class RequestLimits:
    """431 for a header block over ``MAX_HEADER_BYTES``; 408 for a body not complete
    ``body_seconds`` after the headers.

    On the body deadline the client gets its 408 (if no answer has begun) with
    ``Connection: close``, and the app is told the client is gone, as for a real disconnect:
    whatever it answers after that is dropped, since the client already has its answer."""

    def __init__(self, app: ASGIApp, body_seconds: float) -> None:
        self.app = app
        self.body_seconds = body_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if header_bytes(scope) > MAX_HEADER_BYTES:
            too_large = http_problem(431, f"Request header fields over {MAX_HEADER_BYTES} bytes")
            await too_large(scope, receive, send)
            return
        deadline = asyncio.get_running_loop().time() + self.body_seconds
        body_complete = False
        answer_started = False
        answered_late = False

        async def receive_in_time() -> Message:
            nonlocal body_complete, answered_late
            if body_complete:
                return await receive()
            if answered_late:
                return _DISCONNECT
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                if not answer_started:
                    answered_late = True
                    too_slow = http_problem(
                        408,
                        f"Request body not complete within {self.body_seconds:g} s",
                        {"Connection": "close"},
                    )
                    await too_slow(scope, receive, send)
                return _DISCONNECT
            body_complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        async def send_unless_answered(message: Message) -> None:
            nonlocal answer_started
            if answered_late:
                return
            if message["type"] == "http.response.start":
                answer_started = True
            await send(message)

        try:
            await self.app(scope, receive_in_time, send_unless_answered)
        except Exception:
            if not answered_late:  # else it is the app's reaction to the disconnect it was told of
                raise
