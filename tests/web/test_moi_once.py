"""Each risky-visitor report reaches its receiver once, however many workers and machines serve
(issue 12 §1): real ``saglik serve`` processes, a real receiver on a socket that counts report
ids, N risky visits → N deliveries, none twice. The visits are the test environment's, so the
receiver is the sandbox one (``SAGLIK_MOI_TEST_ENDPOINT``), and the Ministry's gets nothing
(issue 14 §4).

The receiver answers slowly, so a report being sent by one worker is still undelivered when the
others look for work: without claims they would send it again (as 33 of 60 were in issue 12)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from saglik.services.fixtures import hes_fixtures
from saglik.store.engine import make_engine
from saglik.store.schema import moi_outbox
from tests.cluster_support import Node, add_user, cluster
from tests.conftest import Credential
from tests.pg_support import pg_database
from tests.web.conftest import VISIT

VISITS = 24
RISKLI = next(fx.code for fx in hes_fixtures() if fx.category == "Riskli")
VISITOR_PATH = "/services/g2g/test/saglik/hes/check-visitor-hes-code"
RECEIVER_SECONDS = 0.1
"""How long the receiver takes to answer each report."""


class Receiver:
    """The Ministry's endpoint: counts every report it is sent, by ``report_id``."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(RECEIVER_SECONDS)
                with receiver._lock:
                    receiver.received[json.loads(body)["report_id"]] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/moi/reports"

    def __enter__(self) -> Receiver:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as started:
        yield started


@pytest.fixture
def ministry() -> Iterator[Receiver]:
    """The live receiver: the visits are the test environment's, so it must get none of them
    (issue 14 §4)."""
    with Receiver() as started:
        yield started


def moi_settings(receiver: Receiver, ministry: Receiver) -> dict[str, str]:
    return {
        "SAGLIK_MOI_TEST_ENDPOINT": receiver.url,
        "SAGLIK_MOI_TEST_SECRET": "sandbox-sır",
        "SAGLIK_MOI_ENDPOINT": ministry.url,
        "SAGLIK_MOI_SECRET": "içişleri-sır",
    }


def visit_risky(node: Node, user: Credential) -> None:
    """One risky visitor check on a connection of its own, so calls spread over the workers."""
    reply = httpx.post(
        node.base_url + VISITOR_PATH,
        json={"hes_code": RISKLI, **VISIT},
        auth=user.auth,
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["current_health_status"] == "RISKY"


def visit_spread(nodes: Sequence[Node], user: Credential) -> None:
    """``VISITS`` risky visits, four at a time, taking the nodes in turn."""
    with ThreadPoolExecutor(4) as pool:
        for done in [pool.submit(visit_risky, nodes[n % len(nodes)], user) for n in range(VISITS)]:
            done.result()


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.1)


def outbox_report_ids(store_url: str) -> tuple[list[str], int]:
    """Every report id in the outbox, and how many are not delivered yet."""
    engine = make_engine(store_url)
    try:
        with engine.connect() as conn:
            payloads = conn.execute(select(moi_outbox.c.payload)).scalars().all()
            pending = conn.execute(
                select(func.count()).where(moi_outbox.c.delivered_at.is_(None))
            ).scalar_one()
    finally:
        engine.dispose()
    return [json.loads(p)["report_id"] for p in payloads], int(pending)


def assert_each_report_once(receiver: Receiver, store_url: str, ministry: Receiver) -> None:
    assert ministry.received == Counter()
    ids, pending = outbox_report_ids(store_url)
    assert len(ids) == VISITS
    assert pending == 0
    duplicates = {i: n for i, n in receiver.received.items() if n > 1}
    assert duplicates == {}, f"{len(duplicates)} reports sent more than once"
    assert set(receiver.received) == set(ids)


def delivered_everything(receiver: Receiver, store_url: str) -> Callable[[], bool]:
    def check() -> bool:
        return len(receiver.received) == VISITS and outbox_report_ids(store_url)[1] == 0

    return check


def test_two_workers_deliver_each_report_once(
    tmp_path: Path, receiver: Receiver, ministry: Receiver
) -> None:
    store_url = f"sqlite:///{tmp_path / 'saglik.db'}"
    user = add_user(store_url, methods=("check-visitor-hes-code",))
    settings = moi_settings(receiver, ministry)
    with cluster(store_url, workers=2, env=settings, cwd=tmp_path) as nodes:
        visit_spread(nodes, user)
        wait_until(delivered_everything(receiver, store_url))
        time.sleep(1.5)  # another round of every worker's delivery loop: nothing new is sent
    assert_each_report_once(receiver, store_url, ministry)


def test_two_servers_on_one_postgresql_deliver_each_report_once(
    tmp_path: Path, receiver: Receiver, ministry: Receiver
) -> None:
    with pg_database(f"saglik_once_{uuid.uuid4().hex[:12]}") as store_url:
        user = add_user(store_url, methods=("check-visitor-hes-code",))
        settings = moi_settings(receiver, ministry)
        with cluster(store_url, nodes=2, env=settings, cwd=tmp_path) as nodes:
            assert nodes[0].base_url != nodes[1].base_url
            visit_spread(nodes, user)
            wait_until(delivered_everything(receiver, store_url))
            time.sleep(1.5)
        assert_each_report_once(receiver, store_url, ministry)
