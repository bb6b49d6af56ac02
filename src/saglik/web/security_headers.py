"""Headers every answer carries (README, Decisions: *Security headers*).

- ``Cache-Control: no-store``: G2G and operator answers carry personal data, and no browser,
  proxy or CDN between the caller and this service may keep a copy. An answer that states its own
  ``Cache-Control`` keeps it: only the Swagger UI's packaged files do (``docs.py``).
- ``X-Content-Type-Options: nosniff``: a browser renders nothing but what the content type says.
- HTML answers (``/docs`` and ``/console``) also get ``X-Frame-Options: DENY``, ``Referrer-Policy:
  same-origin`` and a Content-Security-Policy that lets the page run its scripts from this
  origin's files and nothing else (no inline script or style, no other host, no framing). The
  console's policy differs in one word: its forms may be submitted, to this origin only.

Pure ASGI on the hot path of every G2G call: the header pairs are built once, and an answer's
start message is scanned once and given them; the body is never touched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""What ``/docs`` needs: its scripts and stylesheet from this origin, the ``data:`` icons of the
stylesheet, and fetches of ``/openapi/*.json`` and of "Try it out" calls to this origin."""

CONSOLE_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "form-action 'none'", "form-action 'self'"
)
"""The console's pages: the same, and their forms post to this origin."""

CONSOLE_PREFIX = "/console"

_EVERY = ((b"x-content-type-options", b"nosniff"),)
_NO_STORE = ((b"cache-control", b"no-store"),)


def _html(policy: str) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"content-security-policy", policy.encode()),
    )


_POLICIES = {False: _html(CONTENT_SECURITY_POLICY), True: _html(CONSOLE_CONTENT_SECURITY_POLICY)}
_ADDED = {
    (has_cache_control, html, console): (
        *_EVERY,
        *(() if has_cache_control else _NO_STORE),
        *(_POLICIES[console] if html else ()),
    )
    for has_cache_control in (False, True)
    for html in (False, True)
    for console in (False, True)
}
"""The pairs to add, by (the answer set Cache-Control itself, the answer is HTML, the path is the
console's)."""


PLAIN = {name.decode(): value.decode() for name, value in _ADDED[False, False, False]}
"""The headers of a non-HTML answer, for the one answer sent outside this middleware: the 500 of
an unexpected error, which Starlette sends from its outermost layer."""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        path = scope["path"]
        console = path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                has_cache_control = html = False
                for name, value in headers:
                    if name == b"cache-control":
                        has_cache_control = True
                    elif name == b"content-type":
                        html = value[:9].lower() == b"text/html"
                # a new list: the one in the message may be a response object's own
                message["headers"] = [*headers, *_ADDED[has_cache_control, html, console]]
            await send(message)

        await self.app(scope, receive, send_with_headers)
