"""Audit and logs of the ÖBS service (contract §3): every call leaves exactly one audit record with
pseudonymous subject references; no identity number, passport number, form number or name reaches
the audit tables or the logs — even though ÖBS carries them in the query string."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx
import pytest

from saglik.domain.methods import HES_METHODS, OBS_METHODS
from saglik.services.obs import normalize_passport
from saglik.store.schema import audit_events, audit_subjects
from tests.conftest import Credential, LiveServer
from tests.web.conftest import (
    Users,
    audit_since,
    dump_table,
    last_audit_id,
    pseudonymizer,
    subjects_of,
    user_row,
)
from tests.web.log_support import record_texts, wait_for_access_log
from tests.web.obs_helpers import (
    DATE_METHODS,
    FORM_METHODS,
    PASSPORT_METHODS,
    Registered,
    Registry,
    new_passport,
    new_tckn,
    obs_get,
    obs_path,
)


@pytest.fixture
def registry(server: LiveServer) -> Registry:
    return Registry(server)


def params_for(method: str, reg: Registered) -> dict[str, str]:
    return {"Tarih": "2026-06-15"} if method in DATE_METHODS else reg.params_for(method)


def expected_refs(server: LiveServer, method: str, reg: Registered) -> list[str]:
    keys = pseudonymizer(server)
    if method in DATE_METHODS:
        return []
    if method in FORM_METHODS:
        return [keys.ref("form", reg.form_no)]
    if method in PASSPORT_METHODS:
        return [keys.ref("passport", normalize_passport(reg.form["passport_no"]))]
    return [keys.person(reg.form["identity_number"])]


# --- one record per call -----------------------------------------------------------------------


@pytest.mark.parametrize("method", OBS_METHODS)
@pytest.mark.parametrize("env", ["live", "test"])
def test_a_successful_call_writes_exactly_one_obs_audit_record(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    registry: Registry,
    method: str,
    env: str,
) -> None:
    user = make_user(env=env, methods=OBS_METHODS)
    reg = registry.register(env=env, passport=method in PASSPORT_METHODS)
    before = last_audit_id(server.engine)
    response = obs_get(http, env, method, user.auth, params_for(method, reg))
    assert response.json()["State"] == 1
    rows = audit_since(server.engine, before)
    assert len(rows) == 1
    row = rows[0]
    account = user_row(server.engine, user)
    assert (row.env, row.service, row.method, row.status, row.outcome) == (
        env,
        "obs",
        method,
        200,
        "ok",
    )
    assert (row.user_id, row.institution_id) == (account.id, account.institution_id)
    assert row.client_ip == "127.0.0.1"
    assert row.occurred_at == server.clock.now()
    assert row.latency_ms >= 0
    assert subjects_of(server.engine, row.id) == sorted(expected_refs(server, method, reg))


def test_the_audited_method_is_the_canonical_name_whatever_the_path_case(
    server: LiveServer, http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register()
    before = last_audit_id(server.engine)
    obs_get(http, "live", "getolumbyformnobasic", users.live.auth, reg.form_params())
    obs_get(http, "live", "GETTUMOLUMLERBYDATE", users.live.auth, {"Tarih": "2026-06-15"})
    rows = audit_since(server.engine, before)
    assert [r.method for r in rows] == ["GetOlumByFormNoBasic", "GetTumOlumlerByDate"]


def test_not_found_and_invalid_answers_are_audited_with_their_outcome(
    server: LiveServer, http: httpx.Client, users: Users
) -> None:
    auth = users.live.auth
    missing = new_tckn()
    passport = new_passport()
    before = last_audit_id(server.engine)
    calls = [
        ("GetOlumTarihiByTcKimlikNo", {"TcKimlikNo": missing}),
        ("GetOlumByPasaportNoFull", {"PasaportNo": passport, "Adi": "A", "Soyadi": "B"}),
        ("GetTumOlumlerByDate", {"Tarih": "2025-13-01"}),
        ("GetOlumByFormNoBasic", {"FormNo": "1234567890"}),
        ("GetOlumTarihiByTcKimlikNo", {"TcKimlikNo": missing[:10] + "x"}),
    ]
    states = [obs_get(http, "live", m, auth, p).json()["State"] for m, p in calls]
    assert states == [2, 2, 0, 0, 0]
    rows = audit_since(server.engine, before)
    assert [(r.method, r.status, r.outcome) for r in rows] == [
        ("GetOlumTarihiByTcKimlikNo", 200, "not-found"),
        ("GetOlumByPasaportNoFull", 200, "not-found"),
        ("GetTumOlumlerByDate", 200, "invalid"),
        ("GetOlumByFormNoBasic", 200, "invalid"),
        ("GetOlumTarihiByTcKimlikNo", 200, "invalid"),
    ]
    keys = pseudonymizer(server)
    assert subjects_of(server.engine, rows[0].id) == [keys.person(missing)]
    assert subjects_of(server.engine, rows[1].id) == [keys.ref("passport", passport)]
    assert [subjects_of(server.engine, r.id) for r in rows[2:]] == [[], [], []]


def test_an_out_of_scope_lookup_is_audited_as_not_found_with_its_subject(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    registry: Registry,
) -> None:
    user = make_user(env="live", methods=OBS_METHODS, province_code=6)
    reg = registry.register(
        death_province=34, death_district=1421, residence_province=34, residence_district=1421
    )
    before = last_audit_id(server.engine)
    assert (
        obs_get(http, "live", "GetOlumByTcKimlikNoFull", user.auth, reg.tc_params()).json()["State"]
        == 2
    )
    rows = audit_since(server.engine, before)
    assert [(r.status, r.outcome) for r in rows] == [(200, "not-found")]
    assert subjects_of(server.engine, rows[0].id) == [
        pseudonymizer(server).person(reg.form["identity_number"])
    ]


@pytest.mark.usefixtures("fresh_minute")
@pytest.mark.parametrize(
    "case", ["no-header", "unknown-user", "wrong-password", "hes-only", "ip", "rate"]
)
def test_refused_calls_are_audited_as_500_or_429(
    server: LiveServer,
    http: httpx.Client,
    make_user: Callable[..., Credential],
    case: str,
) -> None:
    method = "GetTumOlumlerByDate"
    params = {"Tarih": "2026-06-15"}
    if case == "hes-only":
        user = make_user(env="live", methods=HES_METHODS)
    elif case == "ip":
        user = make_user(env="live", methods=OBS_METHODS, ip_allowlist=["192.0.2.0/24"])
    elif case == "rate":
        user = make_user(env="live", methods=OBS_METHODS, rate_limit="1/minute")
        assert obs_get(http, "live", method, user.auth, params).status_code == 200
    else:
        user = make_user(env="live", methods=OBS_METHODS)
    auth: tuple[str, str] | None = {
        "no-header": None,
        "unknown-user": ("nobody-at-all", "whatever-password"),
        "wrong-password": (user.username, user.password + "!"),
    }.get(case, user.auth)
    before = last_audit_id(server.engine)
    response = obs_get(http, "live", method, auth, params)
    expected_status, outcome = {
        "no-header": (500, "unauthenticated"),
        "unknown-user": (500, "unknown-user"),
        "wrong-password": (500, "wrong-password"),
        "hes-only": (500, "method-not-granted"),
        "ip": (500, "ip-not-allowed"),
        "rate": (429, "rate-limited"),
    }[case]
    assert response.status_code == expected_status
    rows = audit_since(server.engine, before)
    assert [(r.service, r.method, r.status, r.outcome) for r in rows] == [
        ("obs", method, expected_status, outcome)
    ]
    account = user_row(server.engine, user)
    if case in ("hes-only", "ip", "rate", "wrong-password"):  # the user named
        assert rows[0].user_id == account.id
    else:
        assert rows[0].user_id is None
    assert subjects_of(server.engine, rows[0].id) == []


def test_a_refused_lookup_records_no_subject(
    server: LiveServer, http: httpx.Client, make_user: Callable[..., Credential]
) -> None:
    """Refused before the query ran: the person asked about is not recorded against anyone."""
    user = make_user(env="live", methods=("GetTumOlumlerByDate",))
    before = last_audit_id(server.engine)
    params = {"TcKimlikNo": new_tckn()}
    assert obs_get(http, "live", "GetOlumTarihiByTcKimlikNo", user.auth, params).status_code == 500
    rows = audit_since(server.engine, before)
    assert [(r.method, r.outcome) for r in rows] == [
        ("GetOlumTarihiByTcKimlikNo", "method-not-granted")
    ]
    assert subjects_of(server.engine, rows[0].id) == []


@pytest.mark.usefixtures("fresh_minute")
def test_a_call_to_a_made_up_method_is_audited_without_its_name(
    server: LiveServer, http: httpx.Client, users: Users
) -> None:
    before = last_audit_id(server.engine)
    params = {"TcKimlikNo": "10000000146"}
    assert (
        obs_get(http, "test", "GetSomething10000000146", users.test.auth, params).status_code == 404
    )
    rows = audit_since(server.engine, before)
    assert [(r.env, r.service, r.method, r.status, r.outcome) for r in rows] == [
        ("test", "obs", "(unknown)", 404, "no-such-method")
    ]
    assert rows[0].user_id is None  # nobody is authenticated for a method that does not exist
    assert subjects_of(server.engine, rows[0].id) == []
    assert "10000000146" not in dump_table(server.engine, audit_events)


# --- nothing personal in the audit tables ------------------------------------------------------


def _people(registry: Registry) -> tuple[Registered, Registered]:
    citizen = registry.register(
        first_name="Nevzat Kâmil",
        last_name="Çakıroğlu",
        father_name="Abdurrahim",
        mother_name="Şerife",
    )
    foreigner = registry.register(
        passport=True, first_name="Wolfgang Amadeus", last_name="Zimmermannová"
    )
    return citizen, foreigner


def _secrets(citizen: Registered, foreigner: Registered) -> list[str]:
    return [
        citizen.form["identity_number"],
        foreigner.form["passport_no"],
        foreigner.form["passport_no"].lower(),
        citizen.form_no,
        citizen.referans_no,
        foreigner.form_no,
        foreigner.referans_no,
        "NEVZAT",
        "Nevzat",
        "ÇAKIROĞLU",
        "Çakıroğlu",
        "ABDURRAHİM",
        "Abdurrahim",
        "WOLFGANG",
        "Wolfgang",
        "ZIMMERMANNOVÁ",
        "Zimmermannová",
    ]


def _call_everything(
    http: httpx.Client,
    users: Users,
    limited: Credential,
    citizen: Registered,
    foreigner: Registered,
) -> None:
    auth = users.live.auth
    for method in OBS_METHODS:
        if method in DATE_METHODS:
            obs_get(http, "live", method, auth, {"Tarih": "2026-06-15", "IlKodu": "6"})
            continue
        reg = foreigner if method in PASSPORT_METHODS else citizen
        obs_get(http, "live", method, auth, reg.params_for(method))
        obs_get(http, "live", method.lower(), auth, reg.params_for(method))
        obs_get(http, "live", method, None, reg.params_for(method))
        obs_get(http, "live", method, limited.auth, reg.params_for(method))
        obs_get(http, "live", method, users.test.auth, reg.params_for(method))
    # wrong values, invalid values, identity number as a username
    obs_get(
        http,
        "live",
        "GetOlumByTcKimlikNoBasic",
        auth,
        citizen.tc_params() | {"DogumTarihi": "1950-13-40"},
    )
    obs_get(http, "live", "GetOlumByFormNoFull", auth, {"FormNo": citizen.form_no})
    obs_get(
        http,
        "live",
        "GetOlumTarihiByTcKimlikNo",
        (citizen.form["identity_number"], "pw"),
        {"TcKimlikNo": citizen.form["identity_number"]},
    )
    obs_get(http, "live", "GetOlumByTcKimlikNoFull", auth, citizen.tc_params() | {"Adi": "x"})


def test_audit_tables_never_hold_a_clear_identity_number_passport_form_number_or_name(
    server: LiveServer,
    http: httpx.Client,
    users: Users,
    make_user: Callable[..., Credential],
    registry: Registry,
) -> None:
    citizen, foreigner = _people(registry)
    limited = make_user(env="live", methods=OBS_METHODS, rate_limit="1/minute")
    before = last_audit_id(server.engine)
    _call_everything(http, users, limited, citizen, foreigner)
    assert len(audit_since(server.engine, before)) > 30
    audit_text = dump_table(server.engine, audit_events) + dump_table(server.engine, audit_subjects)
    for secret in _secrets(citizen, foreigner):
        assert secret not in audit_text, secret


# --- logs --------------------------------------------------------------------------------------


def _is_test_client(record: logging.LogRecord) -> bool:
    return record.threadName == threading.main_thread().name and record.name.startswith(
        ("httpx", "httpcore")
    )


def test_no_identity_number_passport_or_name_reaches_the_logs(
    caplog: pytest.LogCaptureFixture,
    http: httpx.Client,
    users: Users,
    make_user: Callable[..., Credential],
    registry: Registry,
) -> None:
    citizen, foreigner = _people(registry)
    limited = make_user(env="live", methods=OBS_METHODS, rate_limit="1/minute")
    caplog.set_level(logging.DEBUG)
    _call_everything(http, users, limited, citizen, foreigner)
    http.get("/healthz")
    # everything before it has been logged too
    wait_for_access_log(caplog, "/healthz", timeout=2.0)
    # the test's own httpx client logs the URLs it requests; that is not the server's log
    records = [r for r in caplog.records if not _is_test_client(r)]
    access = [r for r in records if r.name == "saglik.access"]
    assert len(access) > 30  # the calls were logged, just not what they carried
    texts = "\n".join(record_texts(records))
    for secret in [*_secrets(citizen, foreigner), limited.password, users.live.password]:
        assert secret not in texts, secret
    assert "TcKimlikNo=" not in texts
    assert "PasaportNo=" not in texts


def test_access_log_records_the_path_without_the_query_string(
    caplog: pytest.LogCaptureFixture, http: httpx.Client, users: Users, registry: Registry
) -> None:
    reg = registry.register()
    caplog.set_level(logging.INFO, logger="saglik.access")
    response = obs_get(http, "live", "GetOlumByTcKimlikNoFull", users.live.auth, reg.tc_params())
    assert response.json()["State"] == 1
    assert "?" in str(response.request.url)  # the numbers did travel in the query string
    path_ = obs_path("live", "GetOlumByTcKimlikNoFull")
    record = wait_for_access_log(caplog, path_, timeout=2.0)
    fields = record.fields  # type: ignore[attr-defined]
    assert fields["path"] == path_
    assert fields["method"] == "GET"
    assert fields["status"] == 200
    for value in fields.values():
        assert "?" not in str(value)
        assert reg.form["identity_number"] not in str(value)
