"""``X-Request-Id`` over a real socket (issue 12 §5): every answer carries one; a caller's valid
one is kept, anything else replaced and never echoed; and every log line written while the request
is handled carries it, with the process id, as the JSON formatter writes them."""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.web import docs
from saglik.web.logs import JsonFormatter
from tests.conftest import start_server
from tests.web.admin_support import PREFIX, Token
from tests.web.conftest import Users, path
from tests.web.obs_helpers import obs_path

ORIGIN = "https://hes-checker.example"
GENERATED = re.compile(r"[0-9a-f]{32}")
HES = path("test", "check-employee-hes-code")


@pytest.fixture(scope="module")
def client(store: Engine, clock: ManualClock) -> Iterator[httpx.Client]:
    """A server of its own, with CORS on: a page must be able to read the id too."""
    settings = Settings(
        database_url="unused-engine-injected", refusal_flush_seconds=0, cors_origins=(ORIGIN,)
    )
    server, thread, base_url = start_server(store, clock, settings)
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http
    server.should_exit = True
    thread.join(timeout=15)


class Lines(logging.Handler):
    """What the server writes to stderr, line by line, formatted as it formats them."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def access_line(self, path_: str, timeout: float = 2.0) -> dict[str, object]:
        """The access line is written once the answer has gone out, so it can trail the client."""
        deadline = time.monotonic() + timeout
        while True:
            for line in reversed(self.lines):
                if line["logger"] == "saglik.access" and line.get("path") == path_:
                    return line
            assert time.monotonic() < deadline, f"no access line for {path_}"
            time.sleep(0.01)


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Iterator[Lines]:
    handler = Lines()
    caplog.set_level(logging.INFO, logger="saglik")
    logger = logging.getLogger("saglik")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def test_every_kind_of_answer_carries_a_new_id(
    client: httpx.Client, users: Users, operator_token: Token
) -> None:
    answers = [
        client.post(HES, json={"hes_code": "Z9Z99999Z9"}, auth=users.test.auth),
        client.post(HES, json={"hes_code": "Z9Z99999Z9"}, auth=(users.test.username, "wrong!")),
        client.get(obs_path("test", "GetTumOlumlerByDate"), params={"Tarih": "2025-03-14"}),
        client.get(PREFIX + "/institutions", headers=operator_token.header),
        client.get(PREFIX + "/institutions"),
        client.get("/healthz"),
        client.get("/readyz"),
        client.get("/docs"),
        client.get("/no/such/path"),
        client.options(HES, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}),
    ]
    assert [a.status_code for a in answers] == [400, 401, 500, 200, 401, 200, 200, 200, 404, 200]
    ids = [a.headers.get_list("x-request-id") for a in answers]
    assert all(len(one) == 1 and GENERATED.fullmatch(one[0]) for one in ids), ids
    assert len({one[0] for one in ids}) == len(ids)


@pytest.mark.parametrize(
    "sent",
    ["a", "0af7651916cd43dd8448eb211c80319c", "req:2026-12-05T10:00:00.123_x-y", "x" * 64],
)
def test_a_callers_valid_id_is_kept(client: httpx.Client, users: Users, sent: str) -> None:
    for answer in (
        client.post(HES, json={"hes_code": "Z9Z99999Z9"}, auth=users.test.auth,
                    headers={"X-Request-Id": sent}),
        client.get("/healthz", headers={"X-Request-Id": sent}),
    ):  # fmt: skip
        assert answer.headers.get_list("x-request-id") == [sent]


@pytest.mark.parametrize(
    "sent",
    [
        [b""],
        [b"x" * 65],
        [b"two words"],
        [b"a/b"],
        [b"a,b"],
        [b'a"b'],
        ["kimlik-ğ".encode()],
        [b"first", b"second"],
    ],
    ids=["empty", "too-long", "space", "slash", "comma", "quote", "non-ascii", "repeated"],
)
def test_anything_else_is_replaced_and_never_echoed(
    client: httpx.Client, users: Users, sent: list[bytes]
) -> None:
    headers = [(b"X-Request-Id", value) for value in sent]
    answer = client.post(
        HES, json={"hes_code": "Z9Z99999Z9"}, auth=users.test.auth, headers=headers
    )
    assert answer.status_code == 400
    (given,) = answer.headers.get_list("x-request-id")
    assert GENERATED.fullmatch(given)
    for value in sent:
        if value:
            assert value not in answer.content
            assert all(value not in v for _, v in answer.headers.raw)


def test_a_page_may_read_the_id(client: httpx.Client, users: Users) -> None:
    answer = client.post(
        HES, json={"hes_code": "Z9Z99999Z9"}, auth=users.test.auth, headers={"Origin": ORIGIN}
    )
    assert answer.headers["access-control-allow-origin"] == ORIGIN
    exposed = {
        h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")
    }
    assert "x-request-id" in exposed


def test_the_lines_of_a_request_carry_its_id_and_the_process_id(
    client: httpx.Client, users: Users, lines: Lines
) -> None:
    sent = "trace-0af7651916cd43dd"
    answer = client.get(
        obs_path("test", "GetTumOlumlerByDate"),
        params={"Tarih": "2025-03-14"},
        auth=users.test.auth,
        headers={"X-Request-Id": sent},
    )
    generated = client.get("/healthz").headers["x-request-id"]
    logging.getLogger("saglik.test").info("outside any request")

    call = lines.access_line(obs_path("test", "GetTumOlumlerByDate"))
    assert (answer.status_code, call["request_id"]) == (200, sent)
    assert lines.access_line("/healthz")["request_id"] == generated
    outside = next(line for line in lines.lines if line["msg"] == "outside any request")
    assert "request_id" not in outside
    assert {line["pid"] for line in lines.lines} == {os.getpid()}


def test_the_answer_and_line_of_an_unexpected_failure_carry_the_id_too(
    client: httpx.Client, lines: Lines, monkeypatch: pytest.MonkeyPatch
) -> None:
    """That 500 is logged by Starlette's outermost layer, after every middleware has returned."""

    def broken(name: str) -> None:
        raise RuntimeError(name)

    monkeypatch.setattr(docs, "spec", broken)
    answer = client.get("/openapi/hes.json", headers={"X-Request-Id": "failing-call-1"})
    assert answer.status_code == 500
    assert answer.headers.get_list("x-request-id") == ["failing-call-1"]
    lines.access_line("/openapi/hes.json")
    failure = next(line for line in lines.lines if line["msg"] == "unhandled RuntimeError")
    assert failure["request_id"] == "failing-call-1"
