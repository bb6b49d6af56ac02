"""Audit and logs (contract §3): every call leaves exactly one append-only audit record with
pseudonymous subject references, and nothing personal reaches a log."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from saglik.services.hes import HesDataService
from saglik.store.schema import audit_events, audit_subjects
from tests.conftest import Credential, Holder, LiveServer
from tests.web.conftest import (
    HES_METHODS,
    VISIT,
    Caller,
    audit_since,
    dump_table,
    last_audit_id,
    path,
    pseudonymizer,
    request_body,
    subjects_of,
    user_row,
)
from tests.web.log_support import record_texts, wait_for_access_log

REF_SHAPE = re.compile(r"k[1-9][0-9]*:[0-9a-f]{40}")  # the audit key's id, then the HMAC


# --- one record per call -----------------------------------------------------------------------


@pytest.mark.parametrize("method", HES_METHODS)
@pytest.mark.parametrize("env", ["live", "test"])
def test_a_successful_call_writes_exactly_one_audit_record(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
    method: str,
    env: str,
) -> None:
    user = make_user(env=env)
    holder = make_holder(env=env)
    before = last_audit_id(server.engine)
    response = http.post(path(env, method), json=request_body(method, holder.code), auth=user.auth)
    assert response.status_code == 200
    rows = audit_since(server.engine, before)
    assert len(rows) == 1
    row = rows[0]
    account = user_row(server.engine, user)
    assert (row.env, row.service, row.method, row.status, row.outcome) == (
        env,
        "hes",
        method,
        200,
        "ok",
    )
    assert (row.user_id, row.institution_id) == (account.id, account.institution_id)
    assert row.client_ip == "127.0.0.1"
    assert row.occurred_at == server.clock.now()
    assert row.latency_ms >= 0


@pytest.mark.parametrize(
    ("sent", "status", "outcome"),
    [
        ("Z0Z0000000", 400, "hescodenotfound"),
        ("expired", 400, "hescodehasbeenexpired"),
    ],
)
@pytest.mark.parametrize(
    "method", ["check-visitor-hes-code", "check-employee-hes-code", "check-hes-code-plus"]
)
def test_a_hes_error_is_audited_with_its_error_key(
    server: LiveServer,
    live: Caller,
    make_holder: Callable[..., Holder],
    sent: str,
    status: int,
    outcome: str,
    method: str,
) -> None:
    if sent == "expired":
        sent = make_holder(valid_for=timedelta(minutes=1)).code
        server.clock.advance(timedelta(minutes=2))
    before = last_audit_id(server.engine)
    assert live.check(method, sent).status_code == status
    rows = audit_since(server.engine, before)
    assert [(r.method, r.status, r.outcome) for r in rows] == [(method, status, outcome)]
    assert rows[0].user_id == user_row(server.engine, live.credential).id


def test_every_call_of_a_sequence_writes_its_own_record_in_order(
    server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    before = last_audit_id(server.engine)
    statuses = [
        live.check("check-employee-hes-code", holder.code).status_code,
        live.check("check-hes-code-plus", "Q0Q0000000").status_code,
        live.post("check-hes-codes", []).status_code,
        live.raw("check-employee-hes-code", b"{oops").status_code,
        live.raw("check-employee-hes-code", b"{}", content_type="text/plain").status_code,
        live.check("check-hes-codes-plus", holder.code).status_code,
    ]
    rows = audit_since(server.engine, before)
    assert [r.status for r in rows] == statuses == [200, 400, 400, 400, 415, 200]
    assert [r.outcome for r in rows] == [
        "ok",
        "hescodenotfound",
        "validation",
        "bad-json",
        "bad-media-type",
        "ok",
    ]


@pytest.mark.usefixtures("fresh_minute")
@pytest.mark.parametrize(
    "auth",
    [None, ("nobody-here", "wrong-password-123"), "wrong-password"],
    ids=["no-header", "unknown-user", "wrong-password"],
)
def test_unauthenticated_calls_are_audited_too(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
    auth: Any,
) -> None:
    holder = make_holder()
    if auth == "wrong-password":
        auth = (make_user(env="live").username, "not-the-password-at-all")
    before = last_audit_id(server.engine)
    response = http.post(
        path("live", "check-employee-hes-code"), json={"hes_code": holder.code}, auth=auth
    )
    status, outcome = {
        None: (401, "unauthenticated"),
        "nobody-here": (403, "unknown-user"),
    }.get(auth and auth[0], (401, "wrong-password"))
    assert response.status_code == status
    rows = audit_since(server.engine, before)
    assert len(rows) == 1
    row = rows[0]
    assert (row.env, row.method, row.status, row.outcome) == (
        "live",
        "check-employee-hes-code",
        status,
        outcome,
    )
    assert (row.user_id is None) is (outcome != "wrong-password")  # the user named, if any
    assert row.client_ip == "127.0.0.1"
    assert subjects_of(server.engine, row.id) == []  # the body of a refused call is not read


def test_forbidden_and_rate_limited_calls_are_audited_against_the_user(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    holder = make_holder()
    no_right = make_user(env="live", methods=("check-hes-codes",))
    wrong_ip = make_user(env="live", ip_allowlist=["10.9.8.0/24"])
    limited = make_user(env="live", rate_limit="1/minute")
    before = last_audit_id(server.engine)
    url, body = path("live", "check-employee-hes-code"), {"hes_code": holder.code}
    assert http.post(url, json=body, auth=no_right.auth).status_code == 403
    assert http.post(url, json=body, auth=wrong_ip.auth).status_code == 403
    assert http.post(url, json=body, auth=limited.auth).status_code == 200
    assert http.post(url, json=body, auth=limited.auth).status_code == 429
    rows = audit_since(server.engine, before)
    ids = [user_row(server.engine, u).id for u in (no_right, wrong_ip, limited, limited)]
    assert [(r.user_id, r.status, r.outcome) for r in rows] == [
        (ids[0], 403, "method-not-granted"),
        (ids[1], 403, "ip-not-allowed"),
        (ids[2], 200, "ok"),
        (ids[3], 429, "rate-limited"),
    ]


# --- pseudonymous subjects ---------------------------------------------------------------------


@pytest.mark.usefixtures("fresh_minute")
def test_a_call_to_a_made_up_method_is_audited_without_its_name(
    server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    before = last_audit_id(server.engine)
    response = live.post(f"check-{holder.code}", {"hes_code": holder.code})
    assert response.status_code == 404
    rows = audit_since(server.engine, before)
    assert [(r.env, r.service, r.method, r.status, r.outcome) for r in rows] == [
        ("live", "hes", "(unknown)", 404, "no-such-method")
    ]
    assert rows[0].user_id is None
    assert subjects_of(server.engine, rows[0].id) == []
    assert holder.code not in dump_table(server.engine, audit_events)


def test_subject_refs_are_keyed_hmacs_of_the_code_and_the_person(
    server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    before = last_audit_id(server.engine)
    assert live.check("check-employee-hes-code", holder.code).status_code == 200
    (row,) = audit_since(server.engine, before)
    refs = subjects_of(server.engine, row.id)
    p = pseudonymizer(server)
    assert refs == sorted([p.code(holder.code), p.person(holder.identity_number)])
    for ref in refs:
        assert REF_SHAPE.fullmatch(ref)
        # not an unkeyed digest of the clear value
        for clear in (holder.code, holder.identity_number):
            assert ref != hashlib.sha256(clear.encode()).hexdigest()[:40]


def test_the_same_code_in_any_case_gets_the_same_ref(
    server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    before = last_audit_id(server.engine)
    live.check("check-employee-hes-code", holder.code)
    live.check("check-hes-code-plus", holder.code.lower())
    first, second = audit_since(server.engine, before)
    assert subjects_of(server.engine, first.id) == subjects_of(server.engine, second.id)


def test_unknown_code_is_audited_with_the_code_ref_only(server: LiveServer, live: Caller) -> None:
    before = last_audit_id(server.engine)
    live.check("check-employee-hes-code", "K0K0000000")
    (row,) = audit_since(server.engine, before)
    assert subjects_of(server.engine, row.id) == [pseudonymizer(server).code("K0K0000000")]


def test_bulk_call_is_one_record_referring_to_every_code_and_person(
    server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    a, b = make_holder(), make_holder()
    before = last_audit_id(server.engine)
    body = [{"hes_code": c} for c in (a.code, b.code, "K1K0000000", a.code.lower())]
    assert live.post("check-hes-codes", body).status_code == 200
    (row,) = audit_since(server.engine, before)
    p = pseudonymizer(server)
    assert subjects_of(server.engine, row.id) == sorted(
        [
            p.code(a.code),
            p.person(a.identity_number),
            p.code(b.code),
            p.person(b.identity_number),
            p.code("K1K0000000"),
        ]
    )


def test_audit_tables_never_hold_a_clear_code_identity_number_or_name(
    server: LiveServer,
    live: Caller,
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
) -> None:
    holder = make_holder(first_name="Necmettin", last_name="Erbakanoğlu")
    risky = make_holder(first_name="Süheyla", last_name="Ağaoğlu")
    hes_data.open_risk("live", risky.identity_number, "case")
    for method in HES_METHODS:
        live.check(method, holder.code)
        live.check(method, holder.code.lower())
        live.check(method, risky.code)
    live.post("check-hes-codes", [{"hes_code": holder.code}, {"hes_code": 5}])
    live.raw("check-employee-hes-code", f'{{"hes_code": "{holder.code}"'.encode())
    tables = dump_table(server.engine, audit_events) + dump_table(server.engine, audit_subjects)
    for holder_ in (holder, risky):
        for clear in (holder_.code, holder_.code.lower(), holder_.identity_number):
            assert clear not in tables
    for name in ("NECMETTİN", "ERBAKANOĞLU", "SÜHEYLA", "AĞAOĞLU", "Necmettin", "Süheyla"):
        assert name not in tables


# --- logs --------------------------------------------------------------------------------------


def test_no_personal_data_reaches_the_logs(
    caplog: pytest.LogCaptureFixture,
    server: LiveServer,
    live: Caller,
    sandbox: Caller,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
    hes_data: HesDataService,
) -> None:
    holder = make_holder(first_name="Kâzım Ziya", last_name="Karabekiroğlu")
    risky = make_holder(first_name="Nükhet", last_name="Duruöztürk")
    hes_data.open_risk("live", risky.identity_number, "case")
    expired = make_holder(first_name="Gülten", last_name="Akınoğlu", valid_for=timedelta(hours=1))
    test_holder = make_holder(env="test", first_name="Tülin", last_name="Şahbazoğlu")
    limited = make_user(env="live", rate_limit="1/minute")
    caplog.set_level(logging.DEBUG)
    server.clock.advance(timedelta(hours=2))
    for method in HES_METHODS:
        for code in (holder.code, holder.code.lower(), risky.code, expired.code):
            live.check(method, code)
        sandbox.check(method, test_holder.code)
        live.check(method, f"{holder.code[:4]}-{holder.code[4:8]}-{holder.code[8:]}")
    live.post("check-visitor-hes-code", {"hes_code": risky.code, **VISIT, "city": ""})
    live.post("check-hes-codes", [{"hes_code": holder.code}, {"hes_code": 7}, "x"])
    live.raw("check-employee-hes-code", f'{{"hes_code": "{holder.code}", '.encode())
    live.raw("check-employee-hes-code", f'{{"hes_code": "{holder.code}"}}'.encode(), "text/plain")
    url = path("live", "check-hes-code-plus")
    live.client.post(url, json={"hes_code": holder.code})
    live.client.post(url, json={"hes_code": holder.code}, auth=(holder.identity_number, "pw"))
    live.client.post(url, json={"hes_code": holder.code}, auth=limited.auth)
    live.client.post(url, json={"hes_code": holder.code}, auth=limited.auth)

    live.client.get("/healthz")
    # everything before it has been logged too
    wait_for_access_log(caplog, "/healthz", timeout=1.0)
    texts = "\n".join(record_texts(caplog.records))
    secrets = [
        *(h.code for h in (holder, risky, expired, test_holder)),
        holder.code.lower(),
        *(h.identity_number for h in (holder, risky, expired, test_holder)),
        "KÂZIM",
        "Kâzım",
        "KARABEKİROĞLU",
        "Karabekiroğlu",
        "NÜKHET",
        "DURUÖZTÜRK",
        "GÜLTEN",
        "AKINOĞLU",
        "TÜLİN",
        "ŞAHBAZOĞLU",
        VISIT["explicit_address"],
        limited.password,
    ]
    leaked = [s for s in secrets if s in texts]
    assert leaked == []


def test_access_log_records_method_path_and_status_without_a_query_string(
    caplog: pytest.LogCaptureFixture, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder()
    caplog.set_level(logging.INFO, logger="saglik.access")
    live.client.post(
        path("live", "check-employee-hes-code") + f"?hes_code={holder.code}",
        json={"hes_code": holder.code},
        auth=live.credential.auth,
    )
    record = wait_for_access_log(
        caplog, "/services/g2g/saglik/hes/check-employee-hes-code", timeout=1.0
    )
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["method"] == "POST"
    assert fields["status"] == 200
    assert holder.code not in json.dumps(fields)
