"""Sandbox traffic never reaches the Ministry of Interior (issue 14 §4), over real sockets: a
server with both receivers sends each environment's risky-visitor reports to its own receiver
only, signed with that receiver's key; a server without a test receiver records test reports,
never sends them, leaves them out of the backlog (``/metrics`` and the console's dashboard) and
lists them in ``saglik audit moi-reports`` exactly as they would have been sent.

Each server runs on a store of its own: the session's server has no test receiver, and its
delivery loop would mark these test reports not sent before the server under test sent them."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import random
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine, select

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.domain.tckn import random_tckn
from saglik.services.accounts import AccountService
from saglik.services.bootstrap import ensure_store
from saglik.services.fixtures import apply_hes_fixtures, hes_fixtures
from saglik.services.hes import HesDataService
from saglik.store.schema import moi_outbox, operator_changes
from tests.change_support import change_log
from tests.cli.conftest import SAGLIK
from tests.conftest import BASE_TIME, Credential, LiveServer, start_server
from tests.store.backends import backend_of, blank_engine
from tests.web.conftest import VISIT, path
from tests.web.console.console_support import sign_in
from tests.web.test_moi_reports import Receiver, running_receiver

VISITOR = "check-visitor-hes-code"
RISKLI = next(fx.code for fx in hes_fixtures() if fx.category == "Riskli")
"""The test environment's risky fixture code: what an integrator tries first."""
LIVE_SECRET = "içişleri-canlı-sır"
TEST_SECRET = "sandbox-alıcısının-sırrı"
METRICS_TOKEN = f"metrics-{secrets.token_hex(16)}"
WAIT = 20.0
ROUND = 1.5
"""More than one round of every delivery loop (``DELIVERY_POLL_SECONDS`` is 1 s)."""


@dataclass
class World:
    server: LiveServer
    store_url: str
    live: Credential
    test: Credential
    live_risky_code: str

    def visit(self, env: str, code: str) -> None:
        user = self.live if env == "live" else self.test
        reply = httpx.post(
            self.server.base_url + path(env, VISITOR),
            json={"hes_code": code, **VISIT},
            auth=user.auth,
            timeout=10,
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["current_health_status"] == "RISKY"

    def outbox(self) -> list[Any]:
        with self.server.engine.connect() as conn:
            return list(conn.execute(select(moi_outbox).order_by(moi_outbox.c.id)).all())

    def row_of(self, env: str) -> Any:
        (row,) = [r for r in self.outbox() if r.environment == env]
        return row


def _user(accounts: AccountService, env: str) -> Credential:
    institution = f"Kurum {uuid.uuid4().hex[:10]}"
    accounts.add_institution(institution)
    username, password = f"u{uuid.uuid4().hex[:12]}", secrets.token_urlsafe(18)
    accounts.add_user(
        username=username, institution=institution, env=env, methods=(VISITOR,), password=password
    )
    return Credential(username, password, env)


@contextlib.contextmanager
def world(store: Engine, tmp_path: Path, **settings: Any) -> Iterator[World]:
    """A server with ``settings`` on a new store of the session's backend, with the test
    fixtures, a user per environment and a live person whose code is risky."""
    with blank_engine(backend_of(store), tmp_path, migrated=False) as engine:
        ensure_store(engine)
        clock = ManualClock(BASE_TIME)
        apply_hes_fixtures(engine, clock)
        accounts = AccountService(engine, clock, change_log(engine, clock))
        live, test = _user(accounts, "live"), _user(accounts, "test")
        hes = HesDataService(engine, clock, change_log(engine, clock))
        tckn = random_tckn(random.Random())
        hes.add_person("live", tckn, "Riskli", "Ziyaretçi")
        code, _ = hes.issue_code("live", tckn)
        hes.open_risk("live", tckn, "case")
        config = Settings(
            database_url="unused-engine-injected", refusal_flush_seconds=0, **settings
        )
        srv, thread, base_url = start_server(engine, clock, config)
        try:
            yield World(
                LiveServer(base_url, engine, clock),
                engine.url.render_as_string(hide_password=False),
                live,
                test,
                code,
            )
        finally:
            srv.should_exit = True
            thread.join(timeout=15)


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def signed_with(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def environments(receiver: Receiver) -> list[str]:
    return [r.report["environment"] for r in receiver.received]


def test_each_environment_reaches_only_its_own_receiver_signed_with_its_own_key(
    store: Engine, tmp_path: Path
) -> None:
    with (
        running_receiver() as ministry,
        running_receiver() as sandbox,
        world(
            store,
            tmp_path,
            moi_endpoint=ministry.url,
            moi_secret=SecretStr(LIVE_SECRET),
            moi_test_endpoint=sandbox.url,
            moi_test_secret=SecretStr(TEST_SECRET),
        ) as w,
    ):
        w.visit("test", RISKLI)
        w.visit("live", w.live_risky_code)
        wait_until(lambda: all(r.delivered_at is not None for r in w.outbox()))
        time.sleep(ROUND)  # every loop has looked again: nothing more goes anywhere
        rows = {r.environment: r for r in w.outbox()}
    assert set(rows) == {"live", "test"}
    assert environments(ministry) == ["live"]
    assert environments(sandbox) == ["test"]
    (to_ministry,), (to_sandbox,) = ministry.received, sandbox.received
    assert to_sandbox.body == rows["test"].payload.encode()
    assert to_sandbox.report["hes_code"] == RISKLI
    assert to_ministry.body == rows["live"].payload.encode()
    assert to_ministry.headers["x-saglik-signature"] == signed_with(LIVE_SECRET, to_ministry.body)
    assert to_sandbox.headers["x-saglik-signature"] == signed_with(TEST_SECRET, to_sandbox.body)


def scrape_backlog(server: LiveServer) -> float:
    reply = httpx.get(
        server.base_url + "/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    (value,) = [
        sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
        if sample.name == "saglik_moi_outbox_backlog"
    ]
    return value


def console_backlog(server: LiveServer) -> int:
    console = sign_in(server)
    try:
        page = console.get("/console/dashboards", params={"range": "1h"})
    finally:
        console.http.close()
    assert page.status_code == 200, page.text
    found = re.search(r'<p class="stat">[^<]*<strong>(\d+)', page.text)
    assert found, "the dashboard shows no backlog"
    return int(found.group(1))


def audit_moi_reports(store_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SAGLIK, "audit", "moi-reports", *options],
        env={**os.environ, "SAGLIK_DATABASE_URL": store_url, "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_without_a_test_receiver_a_test_report_is_recorded_never_sent_and_listed(
    store: Engine, tmp_path: Path
) -> None:
    with (
        running_receiver() as ministry,
        world(
            store,
            tmp_path,
            moi_endpoint=ministry.url,
            moi_secret=SecretStr(LIVE_SECRET),
            metrics_token=SecretStr(METRICS_TOKEN),
        ) as w,
    ):
        ministry.failing_all = True  # the live report stays waiting: the backlog has one
        w.visit("test", RISKLI)
        w.visit("live", w.live_risky_code)
        wait_until(lambda: w.row_of("test").withheld_at is not None and ministry.received != [])
        time.sleep(ROUND)
        test_row, live_row = w.row_of("test"), w.row_of("live")

        assert set(environments(ministry)) == {"live"}  # tried again and again, never the test one
        assert (test_row.delivered_at, test_row.attempts) == (None, 0)
        assert live_row.delivered_at is None
        assert live_row.attempts >= 1
        assert scrape_backlog(w.server) == 1
        assert console_backlog(w.server) == 1

        listed = audit_moi_reports(w.store_url, "--env", "test", "--json")
        assert listed.returncode == 0, listed.stderr
        (line,) = listed.stdout.splitlines()
        report = json.loads(line)
        assert (report["environment"], report["status"]) == ("test", "not-sent")
        assert report["payload"] == test_row.payload  # exactly what would have been sent
        assert json.loads(report["payload"])["hes_code"] == RISKLI
        assert "SAGLIK_MOI_TEST_ENDPOINT" in report["last_error"]

        both = audit_moi_reports(w.store_url, "--json")
        assert both.returncode == 0, both.stderr
        states = {r["environment"]: r["status"] for r in map(json.loads, both.stdout.splitlines())}
        assert states == {"test": "not-sent", "live": "waiting"}

        table = audit_moi_reports(w.store_url, "--env", "test")
        assert table.returncode == 0, table.stderr
        assert "not sent" in table.stdout
        assert RISKLI in table.stdout.replace("\n", "").replace("│", "").replace(" ", "")

        with w.server.engine.connect() as conn:
            reads = conn.execute(
                select(operator_changes.c.action, operator_changes.c.actor).where(
                    operator_changes.c.entity == "moi_report"
                )
            ).all()
        assert reads
        assert {r.action for r in reads} == {"read"}
        assert all(r.actor.startswith("cli:") for r in reads)


def test_the_session_servers_test_reports_never_go_to_a_live_delivery(
    server: LiveServer, store: Engine
) -> None:
    """The shared server has no receiver at all: its test reports are marked not sent within a
    round, and stay out of the live backlog."""
    sandbox_user = _user(
        AccountService(store, server.clock, change_log(store, server.clock)), "test"
    )
    reply = httpx.post(
        server.base_url + path("test", VISITOR),
        json={"hes_code": RISKLI, **VISIT},
        auth=sandbox_user.auth,
        timeout=10,
    )
    assert reply.json()["current_health_status"] == "RISKY"
    with store.connect() as conn:
        newest = conn.execute(select(moi_outbox).order_by(moi_outbox.c.id.desc()).limit(1)).one()
    assert newest.environment == "test"

    def withheld() -> bool:
        with store.connect() as conn:
            at = conn.execute(
                select(moi_outbox.c.withheld_at).where(moi_outbox.c.id == newest.id)
            ).scalar_one()
        return at is not None

    wait_until(withheld)
