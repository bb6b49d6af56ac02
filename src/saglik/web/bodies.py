"""A request body read within a size bound, and its media type: the G2G methods and the operator
API read bodies alike, each answering an oversized one in its own documented form."""

from __future__ import annotations

from starlette.requests import Request


async def bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit``: read in chunks, so a body sent without
    Content-Length is never held in memory past the limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """``Content-Type`` without its parameters, lower case (``application/json``)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()
