"""Reading what the server logged, for the HES and ÖBS audit-and-logs tests: waiting for the
access-log record of a request, and flattening records into every text a log handler could emit
(so a "nothing personal reaches a log" check sees the message, its arguments, its structured
fields and any exception). Both test files used to carry a copy of each."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable

import pytest


def wait_for_access_log(
    caplog: pytest.LogCaptureFixture, path_: str, *, timeout: float
) -> logging.LogRecord:
    """The access log is written once the response has gone out, so it can trail the client:
    the newest ``saglik.access`` record for ``path_``, polled for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        for record in reversed(caplog.records):
            fields = getattr(record, "fields", None)
            if record.name == "saglik.access" and fields and fields.get("path") == path_:
                return record
        assert time.monotonic() < deadline, f"no access log record for {path_}"
        time.sleep(0.01)


def record_texts(records: Iterable[logging.LogRecord]) -> list[str]:
    """Every text each record could put in a log line: message template, formatted message,
    arguments, structured ``fields`` as JSON, and the exception's repr."""
    texts = []
    for record in records:
        texts.append(str(record.msg))
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        fields = getattr(record, "fields", None)
        if fields is not None:
            texts.append(json.dumps(fields, ensure_ascii=False, default=str))
        if record.exc_info and record.exc_info[1] is not None:
            texts.append(repr(record.exc_info[1]))
    return texts
