"""Structured (JSON lines) logs and the access log.

The access log writes the path without its query string: ÖBS puts identity numbers and names in
query parameters, and nothing personal may reach a log.

Every line carries the writing process's ``pid`` (workers are processes of their own) and, while
a request is being handled, its ``request_id`` (``web/request_id.py``), so that the lines of one
call can be found among the interleaved lines of all the others.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from contextvars import ContextVar
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("saglik.access")


_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""``json.dumps(..., ensure_ascii=False)`` would build a new encoder for every line."""

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
"""The id of the request the running task handles, set by ``RequestIdMiddleware``."""


def _read_pid() -> None:
    global _pid
    _pid = os.getpid()


_pid = os.getpid()
"""Read once per process, not once per line (``logProcesses`` is off for the same reason), and
again in a forked child."""
os.register_at_fork(after_in_child=_read_pid)


class JsonFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")
    """The last whole second formatted and its text: strftime once a second, not once a line."""

    def _timestamp(self, record: logging.LogRecord) -> str:
        second, text = self._second
        if int(record.created) != second:
            text = self.formatTime(record, "%Y-%m-%dT%H:%M:%S")
            self._second = (int(record.created), text)
        return f"{text}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": self._timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": _pid,
            "msg": record.getMessage(),
        }
        rid = request_id.get()
        if rid is not None:
            entry["request_id"] = rid
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return _ENCODER.encode(entry)


JsonFormatter.converter = time.gmtime


def configure_logging(level: str = "INFO") -> None:
    # Every G2G call writes an access line: skip what LogRecord gathers that no line shows
    # (the caller's frame, thread and process names), as the logging HOWTO's "Optimization" says.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "fields": {
                            "method": scope["method"],
                            "path": scope["path"],
                            "status": status,
                            "ms": round((time.perf_counter() - started) * 1000, 2),
                        }
                    },
                )
