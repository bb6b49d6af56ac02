"""Nothing personal reaches a log from the operator API: not identity numbers, names, codes or
passwords, whether the request succeeds or is refused, and not even when a handler fails in a way
nobody foresaw (the failure is logged by its type, answered 500 without a traceback)."""

from __future__ import annotations

import logging
import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.services.hes import HesDataService
from saglik.store import migrate
from saglik.store.engine import make_engine
from tests.conftest import BASE_TIME, LiveServer, start_server
from tests.web.admin_support import PREFIX, Admin, make_token, new_tckn, ok, problem, unique
from tests.web.log_support import record_texts, wait_for_access_log


def server_side(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    """The test's own httpx client logs the URLs it requests; that is not the server's log."""
    return [
        r
        for r in records
        if not (
            r.threadName == threading.main_thread().name
            and r.name.startswith(("httpx", "httpcore"))
        )
    ]


def test_no_personal_data_reaches_the_logs(
    caplog: pytest.LogCaptureFixture, server: LiveServer, admin: Admin
) -> None:
    caplog.set_level(logging.DEBUG)
    tckn, stranger = new_tckn(), new_tckn()
    env_key = {"env": "live", "identity_number": tckn}
    ok(
        admin.put("/persons", {**env_key, "first_name": "Kâzım Ziya", "last_name": "Gümüşsuyu"}),
        201,
    )
    code = ok(admin.post("/hes-codes", env_key), 201)["code"]
    ok(admin.get("/persons", params=env_key))
    ok(admin.get("/hes-codes", params=env_key))
    ok(
        admin.put(
            "/persons/consent", {**env_key, "vaccination": True, "immunity": True, "test": True}
        )
    )
    ok(admin.post("/risk-periods", {**env_key, "kind": "case"}), 201)
    ok(admin.post("/risk-periods/close", env_key))
    ok(admin.post("/vaccinations", {**env_key, "dose": 1, "vaccine": "Turkovac"}), 201)
    ok(admin.post("/infections", env_key), 201)
    ok(admin.post("/pcr-results", {**env_key, "negative": True}), 201)
    ok(admin.post("/hes-codes/cancel", {"env": "live", "code": code}))
    ok(admin.get("/audit/subject", params={"identity_number": tckn}))
    ok(admin.get("/audit/subject", params={"code": code}))
    form: dict[str, Any] = {
        "identity_number": tckn,
        "first_name": "Kâzım Ziya",
        "last_name": "Gümüşsuyu",
        "mother_name": "Nevber",
        "sex": 1,
        "died_at": "2026-06-14T06:40:00",
        "place_of_death_type": 1,
        "death_province": 6,
        "residence_province": 6,
        "manner": 1,
        "causes": [{"kind": 1, "icd_code": "I21.9"}],
    }
    numbers = ok(admin.post("/death-forms", form, params={"env": "live"}), 201)
    named = {"path": {"form_no": numbers["form_no"]}, "params": {"env": "live", **numbers}}
    named["params"].pop("form_no")
    ok(admin.put("/death-forms/{form_no}", {**form, "father_name": "Şevket"}, **named))
    ok(admin.get("/death-forms/{form_no}", **named))
    institution = unique("Kurum")
    ok(admin.post("/institutions", {"name": institution}), 201)
    user = ok(
        admin.post(
            "/users",
            {"username": unique("u"), "institution": institution, "env": "live", "methods": []},
        ),
        201,
    )
    reset = ok(
        admin.post(
            "/users/{env}/{username}/password",
            path={"env": "live", "username": user["username"]},
        )
    )

    # refusals that carry the same data
    problem(admin.get("/persons", params={"env": "live", "identity_number": stranger}), 404)
    problem(admin.put("/persons", {**env_key, "first_name": "Kâzım", "last_name": 7}), 422)
    problem(admin.put("/persons", {"env": "live", "identity_number": tckn[:10] + "x"}), 422)
    problem(admin.post("/hes-codes/cancel", {"env": "live", "code": code}), 409)
    problem(
        admin.post(
            "/death-forms", {**form, "died_at": "2027-01-01T00:00:00"}, params={"env": "live"}
        ),
        422,
    )
    problem(
        admin.call(
            "PUT",
            "/persons",
            content=f'{{"identity_number": "{tckn}", "first_name": "Nevber'.encode(),
            headers={"Content-Type": "application/json"},
        ),
        400,
    )
    problem(
        admin.call("PUT", "/persons", content=f"identity_number={tckn}".encode(), headers={}), 415
    )
    admin.call("GET", "/persons", params={"identity_number": tckn, "env": "x"}, check=False)

    with server.client() as client:
        client.get("/healthz")
    wait_for_access_log(caplog, "/healthz", timeout=1.0)
    texts = "\n".join(record_texts(server_side(caplog.records)))
    secrets = [
        tckn,
        stranger,
        code,
        code.lower(),
        "KÂZIM",
        "Kâzım",
        "GÜMÜŞSUYU",
        "Gümüşsuyu",
        "NEVBER",
        "Nevber",
        "ŞEVKET",
        "Turkovac",
        user["password"],
        reset["password"],
        numbers["referans_no"],
    ]
    assert [s for s in secrets if s in texts] == []
    paths = [
        r.fields["path"]  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "saglik.access"
    ]
    assert PREFIX + "/persons" in paths
    assert all("?" not in p for p in paths)


def test_an_unforeseen_failure_is_a_500_problem_logged_by_its_type_only(
    caplog: pytest.LogCaptureFixture, admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    tckn = new_tckn()

    def broken(self: HesDataService, env: str, identity_number: str) -> Any:
        raise RuntimeError(f"disk on fire while reading {identity_number}")

    monkeypatch.setattr(HesDataService, "person", broken)
    caplog.set_level(logging.DEBUG)
    response = admin.call(
        "GET", "/persons", params={"env": "live", "identity_number": tckn}, check=False
    )
    body = problem(response, 500)
    assert body["detail"] == "Internal error"
    assert "Traceback" not in response.text
    texts = "\n".join(record_texts(server_side(caplog.records)))
    assert "RuntimeError" in texts
    assert tckn not in texts
    assert "disk on fire" not in texts


def test_a_store_that_fails_is_a_503_problem_with_nothing_personal_logged(
    caplog: pytest.LogCaptureFixture, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A server of its own whose tables go missing under it (SQLite: OperationalError)."""
    clock = ManualClock(BASE_TIME)
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('broken') / 'saglik.db'}")
    migrate.upgrade(engine)
    token = make_token(engine, clock)
    settings = Settings(database_url="unused-engine-injected")
    srv, thread, base_url = start_server(engine, clock, settings)
    tckn = new_tckn()
    caplog.set_level(logging.DEBUG)
    try:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            admin = Admin(client, token)
            body = {
                "env": "live",
                "identity_number": tckn,
                "first_name": "Nevber",
                "last_name": "X",
            }
            ok(admin.put("/persons", body), 201)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE vaccinations"))
            event = {"env": "live", "identity_number": tckn, "dose": 1}
            problem(admin.call("POST", "/vaccinations", json_body=event, check=False), 503)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE operator_tokens"))
            problem(admin.call("GET", "/institutions", check=False), 503)
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        engine.dispose()
    texts = "\n".join(record_texts(server_side(caplog.records)))
    assert "store unavailable" in texts
    assert tckn not in texts
    assert "Nevber" not in texts
