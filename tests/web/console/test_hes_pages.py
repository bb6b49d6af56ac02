"""Persons and HES codes in the console: look a person up, add one, and every action on the record
(consent, codes, risk periods, vaccinations, infections, PCR results) — each read back from the
store, logged under the console operator, refused on the page with the service's reason, and
never with an identity number or a code in a URL. End to end: a code cancelled in the browser
answers ``hescodenotfound`` from the G2G HES service."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from saglik.services.hes import HesDataService
from tests.conftest import BASE_TIME, Holder, LiveServer
from tests.web.admin_support import changes_since, last_change_id, new_tckn
from tests.web.conftest import NOT_FOUND_BODY, Caller, assert_hes_error, assert_json
from tests.web.console.console_support import (
    ConsoleClient,
    assert_accessible,
    browser_sign_in,
    screenshot,
)

FIND = "/console/persons/find"


@pytest.fixture
def console(console: ConsoleClient) -> ConsoleClient:
    """The operator reads English here: the assertions quote the messages as written."""
    console.http.cookies.set("saglik_lang", "en", path="/console")
    return console


def assert_private(response: httpx.Response, *secrets: str) -> None:
    """Neither the answer's URL nor any redirect on the way names a person or a code."""
    for hop in [*response.history, response]:
        for secret in secrets:
            assert secret not in str(hop.url)
            assert secret not in hop.headers.get("location", "")


def person(hes_data: HesDataService, env: str = "test", **names: str) -> str:
    tckn = new_tckn()
    hes_data.add_person(env, tckn, names.get("first", "Ayşe"), names.get("last", "Yılmaz"))
    return tckn


def post(console: ConsoleClient, path: str, env: str, tckn: str, **fields: Any) -> httpx.Response:
    answer = console.post(path, {"env": env, "identity_number": tckn, **fields})
    assert_private(answer, tckn, *(str(v) for k, v in fields.items() if k == "code"))
    return answer


def refused(answer: httpx.Response, status: int, reason: str) -> None:
    assert answer.status_code == status, answer.text
    assert 'role="alert"' in answer.text
    assert reason in answer.text


def istanbul(text: str) -> datetime:
    """A ``datetime-local`` value as the page reads it: Istanbul wall time (UTC+3)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC) - timedelta(hours=3)


# --- look up and add ------------------------------------------------------------------------------


def test_the_search_page_looks_up_and_adds_by_post_only(console: ConsoleClient) -> None:
    page = console.get("/console/persons")
    assert page.status_code == 200
    forms = re.findall(r'<form method="(\w+)" action="(/console/persons[^"]*)"', page.text)
    assert ("post", FIND) in forms
    assert ("post", "/console/persons") in forms
    assert 'name="identity_number"' in page.text


def test_adding_a_person_shows_their_record_and_logs_the_addition(
    console: ConsoleClient, server: LiveServer, hes_data: HesDataService
) -> None:
    tckn, before = new_tckn(), last_change_id(server.engine)
    added = post(console, "/console/persons", "test", tckn, first_name="Zeynep", last_name="Demir")
    assert added.status_code == 201, added.text
    assert "ZEYNEP" in added.text
    assert "DEMİR" in added.text
    assert tckn in added.text
    stored = hes_data.person("test", tckn)
    assert (stored.first_name, stored.last_name) == ("ZEYNEP", "DEMİR")
    rows = changes_since(server.engine, before)
    actor = f"console:{console.operator}"
    assert [(r["entity"], r["action"], r["actor"]) for r in rows[:2]] == [
        ("person", "add", actor),
        ("person", "read", actor),
    ]
    again = post(console, "/console/persons", "test", tckn, first_name="Zeynep", last_name="Kaya")
    assert again.status_code == 200
    assert hes_data.person("test", tckn).last_name == "KAYA"


def test_adding_with_an_invalid_identity_number_stays_on_the_search_page(
    console: ConsoleClient,
) -> None:
    answer = console.post(
        "/console/persons",
        {"env": "test", "identity_number": "12345678901", "first_name": "A", "last_name": "B"},
    )
    refused(answer, 422, "T.C. Kimlik No")
    assert 'action="/console/persons/find"' in answer.text
    assert 'value="12345678901"' in answer.text  # typed again for the operator to correct


def test_finding_a_person_renders_the_record_from_the_post_and_logs_a_read(
    console: ConsoleClient, server: LiveServer, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(env="test", first_name="Deniz", last_name="Kaya")
    before = last_change_id(server.engine)
    found = post(console, FIND, "test", holder.identity_number)
    assert found.status_code == 200
    assert found.url.path == FIND
    assert not found.history
    assert holder.code in found.text
    assert "DENİZ" in found.text
    rows = changes_since(server.engine, before)
    assert [(r["entity"], r["action"], r["actor"]) for r in rows] == [
        ("person", "read", f"console:{console.operator}")
    ]
    assert rows[0]["subject_ref"] is not None


def test_a_person_is_looked_up_in_the_environment_asked_for(
    console: ConsoleClient, hes_data: HesDataService
) -> None:
    tckn = person(hes_data, "test")
    refused(post(console, FIND, "live", tckn), 404, "no person with that identity number")


@pytest.mark.parametrize(
    ("env", "tckn", "reason"),
    [
        ("test", "12345678901", "not a valid T.C. Kimlik No"),
        ("test", "", "not a valid T.C. Kimlik No"),
        ("elsewhere", "10000000146", "the environment must be live or test"),
    ],
)
def test_a_malformed_lookup_is_refused_with_422(
    console: ConsoleClient, env: str, tckn: str, reason: str
) -> None:
    refused(console.post(FIND, {"env": env, "identity_number": tckn}), 422, reason)


def test_an_unknown_person_is_refused_with_404_on_the_search_page(console: ConsoleClient) -> None:
    tckn = new_tckn()
    answer = post(console, FIND, "test", tckn)
    refused(answer, 404, "no person with that identity number")
    assert 'action="/console/persons/find"' in answer.text


def test_refusals_are_in_turkish_by_default(console: ConsoleClient) -> None:
    console.http.cookies.delete("saglik_lang")
    answer = post(console, FIND, "test", new_tckn())
    refused(answer, 404, "Bu ortamda bu T.C. Kimlik No ile kayıtlı kişi yok.")


def test_a_record_asked_for_by_url_sends_the_operator_to_the_search(
    console: ConsoleClient,
) -> None:
    for path in (FIND, "/console/persons/codes", "/console/persons/codes/cancel"):
        answer = console.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/console/persons"


# --- consent and codes ----------------------------------------------------------------------------


def test_consent_is_changed_from_the_record(
    console: ConsoleClient, server: LiveServer, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    before = last_change_id(server.engine)
    answer = post(console, "/console/persons/consent", "test", tckn, vaccination="on", test="on")
    assert answer.status_code == 200
    assert 'role="status"' in answer.text
    assert hes_data.person("test", tckn).consent == {
        "vaccination": True,
        "immunity": False,
        "test": True,
    }
    assert re.search(r'id="f-vaccination-on"[^>]* checked', answer.text)
    assert not re.search(r'id="f-immunity-on"[^>]* checked', answer.text)
    change = changes_since(server.engine, before)[0]
    assert (change["entity"], change["actor"]) == ("consent", f"console:{console.operator}")
    assert change["after"] == {"vaccination": True, "immunity": False, "test": True}


def test_issuing_a_code_shows_it_and_stores_it_with_its_validity(
    console: ConsoleClient, server: LiveServer, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    before = last_change_id(server.engine)
    issued = post(console, "/console/persons/codes", "test", tckn, valid_days="30")
    assert issued.status_code == 201, issued.text
    shown = re.search(r'<code class="secret">([A-Z0-9]{10})</code>', issued.text)
    assert shown
    code = shown.group(1)
    assert_private(issued, code)
    [stored] = hes_data.codes("test", tckn)
    assert (stored.code, stored.status) == (code, "active")
    assert stored.expires_at == BASE_TIME + timedelta(days=30)
    change = changes_since(server.engine, before)[0]
    assert (change["entity"], change["action"], change["actor"]) == (
        "hes_code",
        "issue",
        f"console:{console.operator}",
    )
    assert code not in str(change["target"])


def test_a_code_without_expiry_and_the_default_validity(
    console: ConsoleClient, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    assert post(console, "/console/persons/codes", "test", tckn, no_expiry="on").status_code == 201
    assert post(console, "/console/persons/codes", "test", tckn).status_code == 201
    expiries = sorted(
        (c.expires_at for c in hes_data.codes("test", tckn)), key=lambda e: e is not None
    )
    assert expiries == [None, BASE_TIME + timedelta(days=365)]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"valid_days": "30", "no_expiry": "on"}, "not both"),
        ({"valid_days": "0"}, "the validity must be 1 to 36500 days"),
        ({"valid_days": "thirty"}, "valid_days must be a whole number"),
        ({"valid_days": "36500"}, "validity reaches the no-expiry date"),
    ],
)
def test_a_bad_validity_is_refused_on_the_record(
    console: ConsoleClient, hes_data: HesDataService, fields: dict[str, str], reason: str
) -> None:
    tckn = person(hes_data)
    answer = post(console, "/console/persons/codes", "test", tckn, **fields)
    refused(answer, 422, reason)
    assert "YILMAZ" in answer.text  # still the person's record
    assert hes_data.codes("test", tckn) == []


def test_cancelling_a_code_twice_is_refused_with_409(
    console: ConsoleClient,
    server: LiveServer,
    hes_data: HesDataService,
    make_holder: Callable[..., Holder],
) -> None:
    holder = make_holder(env="test")
    tckn, code = holder.identity_number, holder.code
    before = last_change_id(server.engine)
    cancelled = post(console, "/console/persons/codes/cancel", "test", tckn, code=code)
    assert cancelled.status_code == 200
    assert "not found" in cancelled.text
    assert [c.status for c in hes_data.codes("test", tckn)] == ["cancelled"]
    change = changes_since(server.engine, before)[0]
    assert (change["entity"], change["action"], change["actor"]) == (
        "hes_code",
        "cancel",
        f"console:{console.operator}",
    )
    again = post(console, "/console/persons/codes/cancel", "test", tckn, code=code)
    refused(again, 409, "the code is cancelled already")
    assert f"Cancel HES code {code}" not in again.text  # no button for a cancelled code


def test_cancelling_an_unknown_code_is_refused_with_404(
    console: ConsoleClient, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    answer = post(console, "/console/persons/codes/cancel", "test", tckn, code="Z9Z99999Z9")
    refused(answer, 404, "no such HES code in this environment")


def test_an_expired_code_is_listed_as_expired(
    console: ConsoleClient, server: LiveServer, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(env="test", valid_for=timedelta(minutes=5))
    server.clock.set(BASE_TIME + timedelta(minutes=6))  # within the console session's idle time
    answer = post(console, FIND, "test", holder.identity_number)
    assert re.search(r'class="status-expired">Expired<', answer.text)


# --- health events --------------------------------------------------------------------------------


def test_a_risk_period_is_opened_at_an_istanbul_time_and_closed_now(
    console: ConsoleClient, server: LiveServer, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    before = last_change_id(server.engine)
    opened = post(
        console,
        "/console/persons/risk-periods",
        "test",
        tckn,
        kind="contact",
        at="2026-06-14T10:30",
    )
    assert opened.status_code == 201, opened.text
    assert 'action="/console/persons/risk-periods/close"' in opened.text
    server.clock.set(BASE_TIME + timedelta(minutes=10))
    closed = post(console, "/console/persons/risk-periods/close", "test", tckn, at="")
    assert closed.status_code == 200
    [period] = hes_data.person("test", tckn).events["risk_periods"]
    assert period["kind"] == "contact"
    assert period["started_at"] == istanbul("2026-06-14T10:30")
    assert period["ended_at"] == BASE_TIME + timedelta(minutes=10)
    actor = f"console:{console.operator}"
    logged = [
        (r["entity"], r["action"])
        for r in changes_since(server.engine, before)
        if r["actor"] == actor and r["action"] != "read"
    ]
    assert logged == [("risk", "open"), ("risk", "close")]


def test_closing_without_an_open_risk_period_is_refused_with_409(
    console: ConsoleClient, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    answer = post(console, "/console/persons/risk-periods/close", "test", tckn)
    refused(answer, 409, "the person has no open risk period")


def test_an_unknown_risk_kind_and_a_bad_time_are_refused_with_422(
    console: ConsoleClient, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    path = "/console/persons/risk-periods"
    refused(post(console, path, "test", tckn, kind="rumour"), 422, "risk kind must be one of")
    refused(
        post(console, path, "test", tckn, kind="case", at="14.06.2026 10:30"),
        422,
        "the time is not a valid date and time",
    )
    assert hes_data.person("test", tckn).events["risk_periods"] == []


def test_a_vaccination_an_infection_and_a_pcr_result_are_recorded(
    console: ConsoleClient, server: LiveServer, hes_data: HesDataService
) -> None:
    tckn = person(hes_data)
    before = last_change_id(server.engine)
    vaccinated = post(
        console,
        "/console/persons/vaccinations",
        "test",
        tckn,
        dose="2",
        vaccine="  BioNTech  ",
        at="2026-05-01T09:15:30",
    )
    assert vaccinated.status_code == 201, vaccinated.text
    infected = post(console, "/console/persons/infections", "test", tckn, at="2026-03-01T00:00")
    assert infected.status_code == 201
    tested = post(console, "/console/persons/pcr-results", "test", tckn, result="negative")
    assert tested.status_code == 201
    assert "BioNTech" in tested.text
    assert "Negative" in tested.text
    events = hes_data.person("test", tckn).events
    assert events["vaccinations"] == [
        {
            "dose_number": 2,
            "vaccine": "BioNTech",
            "administered_at": istanbul("2026-05-01T09:15:30"),
        }
    ]
    assert events["infections"] == [{"diagnosed_at": istanbul("2026-03-01T00:00")}]
    [pcr] = events["pcr_results"]
    assert pcr["sampled_at"] == BASE_TIME  # empty time: the service's clock
    actor = f"console:{console.operator}"
    logged = [
        (r["entity"], r["actor"])
        for r in changes_since(server.engine, before)
        if r["action"] != "read"
    ]
    assert logged == [("vaccination", actor), ("infection", actor), ("pcr", actor)]


@pytest.mark.parametrize(
    ("path", "fields", "reason"),
    [
        ("/console/persons/vaccinations", {"vaccine": "X"}, "the dose number is required"),
        ("/console/persons/vaccinations", {"dose": "100"}, "the dose number must be 1 to 99"),
        ("/console/persons/vaccinations", {"dose": "1", "vaccine": " "}, "vaccine name must be"),
        ("/console/persons/pcr-results", {}, "choose the PCR result"),
        ("/console/persons/infections", {"at": "1066-10-14T09:00"}, "the year must be between"),
    ],
)
def test_bad_event_fields_are_refused_with_422(
    console: ConsoleClient,
    hes_data: HesDataService,
    path: str,
    fields: dict[str, str],
    reason: str,
) -> None:
    tckn = person(hes_data)
    refused(post(console, path, "test", tckn, **fields), 422, reason)


def test_an_action_for_an_unknown_person_is_refused_with_404_on_the_search_page(
    console: ConsoleClient,
) -> None:
    tckn = new_tckn()
    answer = post(console, "/console/persons/infections", "test", tckn)
    refused(answer, 404, "no person with that identity number")
    assert 'action="/console/persons/find"' in answer.text


# --- in a browser ---------------------------------------------------------------------------------


def visited(page: Any) -> list[str]:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    return urls


def find_in_browser(page: Any, server: LiveServer, env: str, tckn: str) -> None:
    page.goto(f"{server.base_url}/console/persons")
    page.locator("#find-env").select_option(env)
    page.locator("#find-tckn").fill(tckn)
    page.get_by_role("button", name=re.compile("^(Kaydı göster|Show the record)$")).click()
    page.get_by_role("heading", level=1, name=re.compile("^(Kişi kaydı|Person record)$")).wait_for()


def test_an_operator_adds_a_person_issues_a_code_and_records_events_in_the_browser(
    page: Any, server: LiveServer, hes_data: HesDataService
) -> None:
    urls = visited(page)
    tckn = new_tckn()
    page.goto(f"{server.base_url}/console/persons")
    assert_accessible(page)
    screenshot(page, server, "persons-search")

    page.locator("#add-env").select_option("test")
    page.locator("#add-tckn").fill(tckn)
    page.get_by_label(re.compile("^(Ad|First name)$")).fill("Elif")
    page.get_by_label(re.compile("^(Soyad|Last name)$")).fill("Şahin")
    page.get_by_role("button", name=re.compile("^(Kişiyi ekle|Add person)$")).click()
    page.get_by_role("heading", level=2, name="ELİF ŞAHİN").wait_for()

    page.get_by_label(re.compile("^(Geçerlilik süresi|Valid for)")).fill("90")
    page.get_by_role("button", name=re.compile("^(Kodu oluştur|Issue code)$")).click()
    code = page.locator("code.secret").inner_text()
    assert re.fullmatch(r"[A-Z0-9]{10}", code)
    assert_accessible(page)
    screenshot(page, server, "person-code-issued")

    page.get_by_label(re.compile("^(Doz numarası|Dose number)$")).fill("1")
    page.get_by_role("button", name=re.compile("^(Aşıyı kaydet|Record vaccination)$")).click()
    page.locator(".notice").wait_for()
    page.locator("#pcr-result").select_option("negative")
    page.locator("#pcr-at").fill("2026-06-14T08:00")
    page.get_by_role("button", name=re.compile("^(PCR sonucunu kaydet|Record PCR result)$")).click()
    page.locator(".notice").wait_for()
    page.locator("#risk-kind").select_option("case")
    page.get_by_role("button", name=re.compile("^(Riskli dönemi başlat|Open risk period)$")).click()
    page.get_by_role(
        "button", name=re.compile("^(Riskli dönemleri bitir|Close risk periods)$")
    ).wait_for()
    page.get_by_label(re.compile("^(Test sonuçları|Test results)$")).check()
    page.get_by_role("button", name=re.compile("^(Onamı kaydet|Save consent)$")).click()
    page.locator(".notice").wait_for()
    assert_accessible(page)
    screenshot(page, server, "person-record")

    stored = hes_data.person("test", tckn)
    assert [c.code for c in stored.codes] == [code]
    assert stored.codes[0].expires_at == BASE_TIME + timedelta(days=90)
    assert stored.consent["test"] is True
    assert [e["dose_number"] for e in stored.events["vaccinations"]] == [1]
    assert [p["sampled_at"] for p in stored.events["pcr_results"]] == [istanbul("2026-06-14T08:00")]
    assert [r["kind"] for r in stored.events["risk_periods"]] == ["case"]
    assert urls
    assert not [u for u in urls if tckn in u or code in u]


def test_a_refusal_in_the_browser_is_announced_on_the_page(
    browser: Any, server: LiveServer
) -> None:
    """On a page of its own: the ``page`` fixture counts the 404 answer, which chromium reports
    on its console, as an error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    try:
        browser_sign_in(page, server)
        urls = visited(page)
        tckn = new_tckn()
        page.goto(f"{server.base_url}/console/persons")
        page.locator("#find-env").select_option("live")
        page.locator("#find-tckn").fill(tckn)
        page.get_by_role("button", name=re.compile("^(Kaydı göster|Show the record)$")).click()
        alert = page.get_by_role("alert")
        alert.wait_for()
        assert "Bu ortamda bu T.C. Kimlik No ile kayıtlı kişi yok." in alert.inner_text()
        assert page.locator("#add-tckn").input_value() == tckn  # ready to be added instead
        assert_accessible(page)
        screenshot(page, server, "persons-not-found")
        assert not [u for u in urls if tckn in u]
        assert not failures
    finally:
        context.close()


def test_a_code_cancelled_in_the_browser_answers_hescodenotfound_over_g2g(
    page: Any, server: LiveServer, live: Caller, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(env="live", first_name="Mert", last_name="Aydın")
    assert_json(live.check("check-hes-code", holder.code))  # valid before
    urls = visited(page)
    find_in_browser(page, server, "live", holder.identity_number)
    assert page.get_by_text(holder.code).count() == 1
    assert_accessible(page)
    page.get_by_role(
        "button",
        name=re.compile(f"^({holder.code} HES kodunu iptal et|Cancel HES code {holder.code})$"),
    ).click()
    page.locator(".notice").wait_for()
    assert page.locator(".status-cancelled").count() == 1
    screenshot(page, server, "person-code-cancelled")
    assert not [u for u in urls if holder.identity_number in u or holder.code in u]

    assert_hes_error(live.check("check-hes-code", holder.code), NOT_FOUND_BODY)
