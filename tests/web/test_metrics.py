"""``GET /metrics`` over a real socket (issue 12 §5): calls counted by service, method and audit
outcome — never by HTTP status — with their latency, the outbox backlog read from the store, and
the endpoint closed to anyone without the metrics token (absent altogether without one).

The server runs in this process, so its counts are this process's registry: every assertion is
on the difference between two scrapes around the test's own calls."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine, delete, insert

from saglik.config import Settings, SettingsError
from saglik.domain.clock import ManualClock
from saglik.domain.methods import UNKNOWN_METHOD
from saglik.store.outbox_backlog import undelivered
from saglik.store.schema import moi_outbox
from tests.conftest import Holder, LiveServer, start_server
from tests.web.admin_support import PREFIX, Token
from tests.web.conftest import Users, path
from tests.web.obs_helpers import obs_path

TOKEN = f"metrics-{secrets.token_hex(16)}"
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}
WRONG_PASSWORD = "wrong password!"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def client(store: Engine, clock: ManualClock) -> Iterator[httpx.Client]:
    """A server of its own: the session's has no metrics token."""
    settings = Settings(
        database_url="unused-engine-injected",
        refusal_flush_seconds=0,
        metrics_token=SecretStr(TOKEN),
    )
    server, thread, base_url = start_server(store, clock, settings)
    with httpx.Client(base_url=base_url, timeout=10) as http:
        yield http
    server.should_exit = True
    thread.join(timeout=15)


def scrape(client: httpx.Client, headers: dict[str, str] = AUTHORIZED) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def grown(before: Samples, after: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """The series of ``name`` that changed between two scrapes, and by how much."""
    return {
        labels: value - before.get((sample, labels), 0.0)
        for (sample, labels), value in after.items()
        if sample == name and value != before.get((sample, labels), 0.0)
    }


def labels(**pairs: str) -> frozenset[tuple[str, str]]:
    return frozenset(pairs.items())


def test_calls_are_counted_by_service_method_and_audit_outcome_not_by_status(
    client: httpx.Client, users: Users, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(env="test")
    hes = path("test", "check-employee-hes-code")
    obs = obs_path("test", "GetTumOlumlerByDate")
    day = {"Tarih": "2025-03-14"}
    before = scrape(client)

    statuses = [
        client.post(hes, json={"hes_code": holder.code}, auth=users.test.auth).status_code,
        client.post(hes, json={"hes_code": holder.code}, auth=users.test.auth).status_code,
        client.post(hes, json={"hes_code": "Z9Z99999Z9"}, auth=users.test.auth).status_code,
        client.post(
            hes, json={"hes_code": holder.code}, auth=(users.test.username, WRONG_PASSWORD)
        ).status_code,
        client.post(path("test", "no-such-method"), json={}, auth=users.test.auth).status_code,
        client.get(obs, params=day, auth=users.test.auth).status_code,
        client.get(obs, params=day, auth=(users.test.username, WRONG_PASSWORD)).status_code,
        client.get(obs, params=day, auth=("nobody-at-all", WRONG_PASSWORD)).status_code,
    ]
    after = scrape(client)

    assert statuses == [200, 200, 400, 401, 404, 200, 500, 500]
    assert grown(before, after, "saglik_calls_total") == {
        labels(service="hes", method="check-employee-hes-code", outcome="ok"): 2,
        labels(service="hes", method="check-employee-hes-code", outcome="hescodenotfound"): 1,
        labels(service="hes", method="check-employee-hes-code", outcome="wrong-password"): 1,
        labels(service="hes", method=UNKNOWN_METHOD, outcome="no-such-method"): 1,
        labels(service="obs", method="GetTumOlumlerByDate", outcome="ok"): 1,
        # both ÖBS refusals are the same HTTP 500: only the outcome tells them apart
        labels(service="obs", method="GetTumOlumlerByDate", outcome="wrong-password"): 1,
        labels(service="obs", method="GetTumOlumlerByDate", outcome="unknown-user"): 1,
    }
    assert grown(before, after, "saglik_call_seconds_count") == {
        labels(service="hes", method="check-employee-hes-code"): 4,
        labels(service="hes", method=UNKNOWN_METHOD): 1,
        labels(service="obs", method="GetTumOlumlerByDate"): 3,
    }
    # every call waited for its audit commit (refusals fold, so at least the admitted ones did)
    assert after[("saglik_audit_commit_seconds_count", frozenset())] >= (
        before[("saglik_audit_commit_seconds_count", frozenset())] + 1
    )
    assert after[("saglik_audit_queue_depth", frozenset())] == 0


def test_no_label_carries_the_callers_text(
    client: httpx.Client, users: Users, make_holder: Callable[..., Holder]
) -> None:
    """A path segment that names no method is counted as ``(unknown)``, and nothing a caller
    sends (the segment, a code, a username) becomes a label value."""
    holder = make_holder(env="test")
    asked = f"NoSuchMethod{secrets.token_hex(6)}"
    assert client.get(obs_path("test", asked), auth=users.test.auth).status_code == 404
    sent = client.post(path("test", asked), json={"hes_code": holder.code}, auth=users.test.auth)
    assert sent.status_code == 404
    text = client.get("/metrics", headers=AUTHORIZED).text
    assert f'method="{UNKNOWN_METHOD}"' in text
    for callers in (asked, holder.code, users.test.username):
        assert callers not in text


def test_the_outbox_backlog_is_read_from_the_store(client: httpx.Client, store: Engine) -> None:
    at = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    row = {"created_at": at, "next_attempt_at": at, "attempts": 0}
    payloads = [f"metrics-test-{secrets.token_hex(8)}" for _ in range(5)]
    before = scrape(client)[("saglik_moi_outbox_backlog", frozenset())]
    assert before == undelivered(store)
    with store.begin() as conn:
        conn.execute(insert(moi_outbox), [{**row, "payload": p} for p in payloads[:3]])
        conn.execute(
            insert(moi_outbox), [{**row, "payload": p, "delivered_at": at} for p in payloads[3:]]
        )
    try:
        after = scrape(client)[("saglik_moi_outbox_backlog", frozenset())]
    finally:
        with store.begin() as conn:
            conn.execute(delete(moi_outbox).where(moi_outbox.c.payload.in_(payloads)))
    assert after == before + 3


def test_the_token_may_name_its_scheme_in_any_case(client: httpx.Client) -> None:
    assert ("saglik_moi_outbox_backlog", frozenset()) in scrape(
        client, {"Authorization": f"bearer {TOKEN}"}
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer",
        TOKEN,
        f"Basic {base64.b64encode(f'metrics:{TOKEN}'.encode()).decode()}",
        "Bearer ğüşıöç".encode(),
    ],
    ids=["none", "longer", "shorter", "scheme-only", "no-scheme", "basic", "non-ascii"],
)
def test_a_scrape_without_the_token_is_refused_like_the_operator_api_refuses(
    client: httpx.Client, authorization: str | bytes | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    refused = client.get("/metrics", headers=headers)
    operator_refusal = client.get(PREFIX + "/institutions")
    assert refused.status_code == operator_refusal.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer realm="saglik-metrics"'
    assert refused.headers["content-type"] == operator_refusal.headers["content-type"]
    body, operator_body = refused.json(), operator_refusal.json()
    assert list(body) == list(operator_body)
    assert {k: v for k, v in body.items() if k != "detail"} == {
        k: v for k, v in operator_body.items() if k != "detail"
    }
    assert "saglik_" not in refused.text


def test_an_operator_token_is_not_a_metrics_token(
    client: httpx.Client, operator_token: Token
) -> None:
    assert client.get(PREFIX + "/institutions", headers=operator_token.header).status_code == 200
    assert client.get("/metrics", headers=operator_token.header).status_code == 401


def test_without_a_token_configured_there_is_no_metrics_path(server: LiveServer) -> None:
    with server.client() as http:
        unknown = http.get("/no/such/path")
        for headers in ({}, AUTHORIZED):
            absent = http.get("/metrics", headers=headers)
            assert absent.status_code == unknown.status_code == 404
            assert absent.headers["content-type"] == unknown.headers["content-type"]
            assert absent.json() == unknown.json()


def test_a_short_token_is_refused_without_being_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGLIK_METRICS_TOKEN", "tooshort-9f2c")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env()
    assert "SAGLIK_METRICS_TOKEN" in str(refused.value)
    assert "tooshort-9f2c" not in str(refused.value)
