"""Risky-visitor reports to the Ministry of Interior (contract §4.5): written to the outbox with the
audit record, delivered signed to a real HTTP receiver, retried with backoff until acknowledged."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from saglik.services.hes import HesDataService
from saglik.services.moi_outbox import deliver_due
from saglik.store.schema import moi_outbox
from saglik.web.moi_sender import http_sender
from tests.conftest import Holder, LiveServer
from tests.web.conftest import (
    VISIT,
    Caller,
    assert_hes_error,
    assert_json,
    audit_since,
    last_audit_id,
    user_row,
)

VISITOR = "check-visitor-hes-code"
SECRET = "içişleri-paylaşılan-sır"


# --- a real receiver ---------------------------------------------------------------------------


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]

    @property
    def report(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    failing_ids: set[str] = field(default_factory=set)
    """Report ids answered 503; everything else gets 200 (unless ``failing_all``)."""
    failing_all: bool = False

    def for_report(self, report_id: str) -> list[Received]:
        return [r for r in self.received if r.report.get("report_id") == report_id]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as state:
        yield state


@contextlib.contextmanager
def running_receiver() -> Iterator[Receiver]:
    """A receiver on a loopback port of its own, for as long as the context lasts."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.received.append(Received(body, {k.lower(): v for k, v in self.headers.items()}))
            try:
                report_id = json.loads(body).get("report_id")
            except ValueError:
                report_id = None
            status = 503 if state.failing_all or report_id in state.failing_ids else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/moi/reports"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def deliver(server: LiveServer, receiver: Receiver, secret: str = SECRET) -> int:
    async def run() -> int:
        async with httpx.AsyncClient(timeout=5) as client:
            send = http_sender(client, receiver.url)
            return await deliver_due(server.engine, server.clock, send, secret, limit=100_000)

    return asyncio.run(run())


# --- the outbox ----------------------------------------------------------------------------------


def outbox_rows_after(server: LiveServer, after_id: int) -> list[Any]:
    with server.engine.connect() as conn:
        return list(
            conn.execute(
                select(moi_outbox).where(moi_outbox.c.id > after_id).order_by(moi_outbox.c.id)
            ).all()
        )


def last_outbox_id(server: LiveServer) -> int:
    with server.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(moi_outbox.c.id), 0))).scalar_one())


def outbox_row(server: LiveServer, row_id: int) -> Any:
    with server.engine.connect() as conn:
        return conn.execute(select(moi_outbox).where(moi_outbox.c.id == row_id)).one()


@pytest.fixture
def risky(make_holder: Callable[..., Holder], hes_data: HesDataService) -> Holder:
    holder = make_holder(first_name="Riskli", last_name="Ziyaretçi")
    hes_data.open_risk("live", holder.identity_number, "case")
    return holder


def visit(caller: Caller, code: str, **extra: Any) -> httpx.Response:
    return caller.post(VISITOR, {"hes_code": code, **VISIT, **extra})


def test_risky_visitor_check_writes_one_outbox_row_with_its_audit_record(
    server: LiveServer, live: Caller, risky: Holder
) -> None:
    before_outbox, before_audit = last_outbox_id(server), last_audit_id(server.engine)
    body = assert_json(visit(live, risky.code, location={"latitude": 39.87, "longitude": 32.75}))
    assert body["current_health_status"] == "RISKY"
    rows = outbox_rows_after(server, before_outbox)
    assert len(rows) == 1
    (audit,) = audit_since(server.engine, before_audit)
    row = rows[0]
    assert row.created_at == audit.occurred_at == server.clock.now()
    assert row.attempts == 0
    assert row.delivered_at is None
    assert row.next_attempt_at <= server.clock.now()
    report = json.loads(row.payload)
    assert report["hes_code"] == risky.code
    assert report["environment"] == "live"
    assert report["institution_id"] == user_row(server.engine, live.credential).institution_id
    assert (report["city"], report["district"], report["explicit_address"]) == (
        VISIT["city"],
        VISIT["district"],
        VISIT["explicit_address"],
    )
    assert (report["latitude"], report["longitude"]) == (39.87, 32.75)
    assert report["report_id"]
    assert report["reported_at"]
    # the person travels as a pseudonymous reference, never as an identity number or name
    assert report["person_ref"]
    assert risky.identity_number not in row.payload
    assert "RİSKLİ" not in row.payload
    assert "ZİYARETÇİ" not in row.payload


def test_risky_visitor_check_with_lower_case_code_reports_the_code(
    server: LiveServer, live: Caller, risky: Holder
) -> None:
    before = last_outbox_id(server)
    assert_json(visit(live, risky.code.lower()))
    (row,) = outbox_rows_after(server, before)
    assert json.loads(row.payload)["hes_code"] == risky.code


def test_riskless_visitor_check_writes_no_outbox_row(
    server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    before = last_outbox_id(server)
    assert assert_json(visit(live, holder.code))["current_health_status"] == "RISKLESS"
    assert outbox_rows_after(server, before) == []


@pytest.mark.parametrize(
    "method", ["check-employee-hes-code", "check-hes-code-plus", "check-hes-codes"]
)
def test_other_methods_answering_risky_write_no_outbox_row(
    server: LiveServer, live: Caller, risky: Holder, method: str
) -> None:
    before = last_outbox_id(server)
    response = live.check(method, risky.code)
    assert response.status_code == 200
    assert "RISKY" in response.text
    assert outbox_rows_after(server, before) == []


def test_unknown_or_expired_visitor_codes_write_no_outbox_row(
    server: LiveServer,
    live: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
) -> None:
    expired = make_holder(valid_for=timedelta(hours=1))
    hes_data.open_risk("live", expired.identity_number, "case")
    server.clock.advance(timedelta(hours=2))
    before = last_outbox_id(server)
    assert visit(live, expired.code).json()["errorKey"] == "hescodehasbeenexpired"
    assert visit(live, "R0R0000000").json()["errorKey"] == "hescodenotfound"
    assert outbox_rows_after(server, before) == []


def test_invalid_visitor_request_for_a_risky_code_writes_no_outbox_row(
    server: LiveServer, live: Caller, risky: Holder
) -> None:
    before = last_outbox_id(server)
    assert visit(live, risky.code, city="  ").status_code == 400
    assert outbox_rows_after(server, before) == []


def test_risky_visitor_check_on_the_test_path_is_reported_for_the_test_environment(
    server: LiveServer,
    sandbox: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
) -> None:
    holder = make_holder(env="test")
    hes_data.open_risk("test", holder.identity_number, "contact")
    before = last_outbox_id(server)
    assert assert_json(visit(sandbox, holder.code))["current_health_status"] == "RISKY"
    rows = outbox_rows_after(server, before)
    assert [json.loads(r.payload)["environment"] for r in rows] == ["test"]
    assert [r.environment for r in rows] == ["test"]


def test_a_test_report_is_never_sent_to_the_live_receiver(
    server: LiveServer,
    sandbox: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
    receiver: Receiver,
) -> None:
    """Issue 14 §4: the live delivery claims live reports only (the session's server has no
    test receiver, so it marks the report not sent; tests/web/test_moi_environments.py)."""
    holder = make_holder(env="test")
    hes_data.open_risk("test", holder.identity_number, "case")
    before = last_outbox_id(server)
    assert assert_json(visit(sandbox, holder.code))["current_health_status"] == "RISKY"
    (row,) = outbox_rows_after(server, before)
    server.clock.advance(timedelta(hours=1))
    deliver(server, receiver)
    assert receiver.for_report(json.loads(row.payload)["report_id"]) == []
    assert outbox_row(server, row.id).delivered_at is None


def test_each_risky_visit_is_its_own_report(
    server: LiveServer, live: Caller, risky: Holder
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    visit(live, risky.code)
    rows = outbox_rows_after(server, before)
    assert len(rows) == 2
    ids = {json.loads(r.payload)["report_id"] for r in rows}
    assert len(ids) == 2


def test_riskless_then_risky_after_a_risk_period_opens(
    server: LiveServer,
    live: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
) -> None:
    holder = make_holder()
    starts = server.clock.now() + timedelta(hours=1)
    hes_data.open_risk("live", holder.identity_number, "contact", at=starts)
    before = last_outbox_id(server)
    visit(live, holder.code)
    assert outbox_rows_after(server, before) == []
    server.clock.advance(timedelta(hours=1))
    visit(live, holder.code)
    assert len(outbox_rows_after(server, before)) == 1


# --- delivery ----------------------------------------------------------------------------------


def test_report_is_delivered_to_the_receiver_with_a_valid_signature(
    server: LiveServer, live: Caller, risky: Holder, receiver: Receiver
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    (row,) = outbox_rows_after(server, before)
    report_id = json.loads(row.payload)["report_id"]
    server.clock.advance(timedelta(seconds=3))
    assert deliver(server, receiver) >= 1
    (got,) = receiver.for_report(report_id)
    assert got.body == row.payload.encode()
    assert got.headers["content-type"].split(";")[0] == "application/json"
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(got.headers["x-saglik-signature"], expected)
    delivered = outbox_row(server, row.id)
    assert delivered.delivered_at == server.clock.now()
    assert delivered.attempts == 0


def test_signature_depends_on_the_secret_and_the_body(
    server: LiveServer, live: Caller, risky: Holder, receiver: Receiver
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    visit(live, risky.code)
    first, second = outbox_rows_after(server, before)
    deliver(server, receiver, secret="another-secret")
    got = [receiver.for_report(json.loads(r.payload)["report_id"])[0] for r in (first, second)]
    signatures = [g.headers["x-saglik-signature"] for g in got]
    assert signatures[0] != signatures[1]
    wrong_key = "sha256=" + hmac.new(SECRET.encode(), got[0].body, hashlib.sha256).hexdigest()
    assert signatures[0] != wrong_key
    right_key = "sha256=" + hmac.new(b"another-secret", got[0].body, hashlib.sha256).hexdigest()
    assert signatures[0] == right_key


def test_delivered_report_is_not_sent_again(
    server: LiveServer, live: Caller, risky: Holder, receiver: Receiver
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    (row,) = outbox_rows_after(server, before)
    report_id = json.loads(row.payload)["report_id"]
    deliver(server, receiver)
    server.clock.advance(timedelta(hours=2))
    deliver(server, receiver)
    assert len(receiver.for_report(report_id)) == 1


def test_receiver_answering_503_leads_to_retry_with_backoff_then_delivery(
    server: LiveServer, live: Caller, risky: Holder, receiver: Receiver
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    (row,) = outbox_rows_after(server, before)
    report_id = json.loads(row.payload)["report_id"]
    receiver.failing_ids.add(report_id)

    deliver(server, receiver)
    first_failure = outbox_row(server, row.id)
    assert first_failure.delivered_at is None
    assert first_failure.attempts == 1
    first_wait = first_failure.next_attempt_at - server.clock.now()
    assert first_wait > timedelta(0)
    assert first_failure.last_error
    assert len(receiver.for_report(report_id)) == 1

    # not due yet: nothing is sent
    deliver(server, receiver)
    assert len(receiver.for_report(report_id)) == 1
    assert outbox_row(server, row.id).attempts == 1

    server.clock.set(first_failure.next_attempt_at)
    deliver(server, receiver)
    second_failure = outbox_row(server, row.id)
    assert second_failure.attempts == 2
    second_wait = second_failure.next_attempt_at - server.clock.now()
    assert second_wait > first_wait  # backoff grows
    assert len(receiver.for_report(report_id)) == 2

    receiver.failing_ids.clear()
    server.clock.set(second_failure.next_attempt_at)
    deliver(server, receiver)
    done = outbox_row(server, row.id)
    assert done.delivered_at == server.clock.now()
    assert done.attempts == 2
    bodies = {r.body for r in receiver.for_report(report_id)}
    assert bodies == {row.payload.encode()}  # the same report each time: receivers dedupe by id


def test_unreachable_receiver_is_retried_later(
    server: LiveServer, live: Caller, risky: Holder, receiver: Receiver
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    (row,) = outbox_rows_after(server, before)

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]

    async def refuse() -> int:
        async with httpx.AsyncClient(timeout=2) as client:
            send = http_sender(client, f"http://127.0.0.1:{closed_port}/closed")
            return await deliver_due(server.engine, server.clock, send, SECRET, limit=100_000)

    asyncio.run(refuse())
    failed = outbox_row(server, row.id)
    assert failed.delivered_at is None
    assert failed.attempts == 1
    assert failed.next_attempt_at > server.clock.now()
    server.clock.set(failed.next_attempt_at)
    deliver(server, receiver)
    assert outbox_row(server, row.id).delivered_at is not None


def test_backoff_is_capped(
    server: LiveServer, live: Caller, risky: Holder, receiver: Receiver
) -> None:
    before = last_outbox_id(server)
    visit(live, risky.code)
    (row,) = outbox_rows_after(server, before)
    receiver.failing_ids.add(json.loads(row.payload)["report_id"])
    waits = []
    for _ in range(14):
        deliver(server, receiver)
        current = outbox_row(server, row.id)
        waits.append(current.next_attempt_at - server.clock.now())
        server.clock.set(current.next_attempt_at)
    assert outbox_row(server, row.id).attempts == 14
    assert max(waits) <= timedelta(minutes=30)
    assert waits[-1] == waits[-2]  # reached the cap
    assert waits == sorted(waits)


def test_expired_risky_code_answers_expired_and_is_not_reported(
    server: LiveServer,
    live: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
) -> None:
    holder = make_holder(valid_for=timedelta(days=1))
    hes_data.open_risk("live", holder.identity_number, "case")
    server.clock.advance(timedelta(days=1))
    before = last_outbox_id(server)
    response = visit(live, holder.code)
    assert_hes_error(
        response,
        {
            "entityName": "hesCode",
            "errorKey": "hescodehasbeenexpired",
            "type": "https://hescode.saglik.gov.tr/problem/problem-with-message",
            "title": "Hes code has been expired!",
            "status": 400,
            "message": "error.hescodehasbeenexpired",
            "params": "hesCode",
        },
    )
    assert outbox_rows_after(server, before) == []
