"""Death forms in the console: opened by FormNo and ReferansNo, registered from the certificate's
fields (the cause chain completed from the WHO ICD-10 table), corrected, approved and returned —
each read back through the registry service, the form's history and the change log; refusals
named field by field without the values; and, end to end in a browser, a form registered and
approved in the console that the ÖBS G2G feed then lists."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from saglik.services.obs import APPROVED, RETURNED, ObsRegistryService, StoredForm, parse_form
from tests.change_support import change_log
from tests.conftest import Credential, LiveServer
from tests.web.admin_support import changes_since, last_change_id, new_tckn
from tests.web.console.console_support import (
    ConsoleClient,
    assert_accessible,
    browser_sign_in,
    screenshot,
)
from tests.web.obs_helpers import form_body, new_passport, obs_get, pairs, success

ISTANBUL_NOON = "2026-06-15T12:00"
"""The suite's clock (09:00 UTC) in Istanbul: forms below die before it."""

LINES = {"a": 0, "b": 1, "c": 2, "d": 3, "II.1": 4, "II.2": 5, "II.3": 6}
"""The blank form's cause lines (``cause_<n>_…``): Part I (a)–(d), then three Part II lines."""
KINDS = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 5, 6: 5}


def causes(**lines: tuple[str, str]) -> dict[str, str]:
    """The cause fields of a blank form: ``a=("I21.9", "2 saat")`` fills line (a)."""
    fields = {f"cause_{n}_kind": str(kind) for n, kind in KINDS.items()}
    for line, (code, interval) in lines.items():
        n = LINES[line.replace("_", ".")]
        fields[f"cause_{n}_code"] = code
        fields[f"cause_{n}_interval"] = interval
    return fields


def death_form(**overrides: str) -> dict[str, str]:
    """Every field of a death form as the page posts it, for a man who died in Ankara."""
    fields = {
        "env": "test",
        "identity_number": new_tckn(),
        "passport_no": "",
        "nationality": "TR",
        "first_name": "Mehmet Emin",
        "last_name": "Yıldız",
        "father_name": "Hasan",
        "mother_name": "Fatma",
        "birth_date": "1950-04-03",
        "birth_place": "Ankara",
        "sex": "1",
        "residence_province": "34",
        "residence_district": "1421",
        "died_at": "2026-06-15T10:30",
        "place_of_death_type": "1",
        "manner": "1",
        "maternal_status": "",
        "autopsy": "no",
        "injured_at": "2026-06-14T22:15",
        "death_province": "6",
        "death_district": "1231",
        **causes(a=("I21.9", "2 saat"), b=("I25.1", "10 yıl"), d=("E78.0", ""), II_1=("E11.9", "")),
    }
    fields.update(overrides)
    return fields


def registry(server: LiveServer) -> ObsRegistryService:
    return ObsRegistryService(server.engine, server.clock, change_log(server.engine, server.clock))


_KEY = re.compile(r'href="/console/death-forms/(\d+)/correct\?env=(\w+)&amp;ref=(\w+)"')


def key_of(page: str) -> tuple[str, str, str]:
    """(env, FormNo, ReferansNo) of the form a page shows."""
    found = _KEY.search(page)
    assert found, "the page shows no stored form"
    return found.group(2), found.group(1), found.group(3)


def stored(server: LiveServer, page: str) -> StoredForm:
    env, form_no, ref = key_of(page)
    return registry(server).form(env, form_no, ref)


def register(console: ConsoleClient, **overrides: str) -> httpx.Response:
    return console.post("/console/death-forms/new", death_form(**overrides))


def alert(page: str) -> str:
    found = re.search(r'<div class="alert" role="alert">(.*?)</div>', page, re.S)
    assert found, "no refusal shown"
    return html.unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


class _Fields(HTMLParser):
    """What a browser would post from the page's form: inputs' values, selected options."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
            self.fields.setdefault(str(self._select), "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def form_fields(page: str) -> dict[str, str]:
    parser = _Fields()
    parser.feed(page)
    parser.fields.pop("csrf_token", None)
    return parser.fields


def test_a_form_registered_through_the_page_is_stored_with_every_field_and_its_causes(
    server: LiveServer, console: ConsoleClient
) -> None:
    sent = death_form()
    made = console.post("/console/death-forms/new", sent)
    assert made.status_code == 201, made.text
    assert 'role="status"' in made.text
    form = stored(server, made.text)
    record = form.record
    assert form.status == "registered"
    assert record.identity_number == sent["identity_number"]
    assert record.passport_no is None
    assert record.nationality == "TR"
    assert (record.first_name, record.last_name) == ("MEHMET EMİN", "YILDIZ")
    assert (record.father_name, record.mother_name) == ("HASAN", "FATMA")
    assert record.birth_date == date(1950, 4, 3)
    assert record.birth_place == "ANKARA"
    assert record.sex == 1
    assert record.died_at == datetime(2026, 6, 15, 7, 30, tzinfo=UTC)  # 10:30 in Istanbul
    assert record.injured_at == datetime(2026, 6, 14, 19, 15, tzinfo=UTC)
    assert record.place_of_death_type == 1
    assert (record.death_place.province, record.death_place.district) == (6, 1231)
    assert (record.residence.province, record.residence.district) == (34, 1421)
    assert record.manner == 1
    assert record.maternal_status is None
    assert record.autopsy is False
    assert record.registered_at == server.clock.now()
    assert [(c.kind, c.icd_code, c.interval) for c in record.causes] == [
        (1, "I21.9", "2 saat"),
        (2, "I25.1", "10 yıl"),
        (4, "E78.0", None),
        (5, "E11.9", None),
    ]
    assert [h["action"] for h in form.history] == ["registered"]
    # the page shows what was stored, with the titles of the codes
    assert "Acute myocardial infarction, unspecified" in made.text
    assert "Çankaya" in made.text
    assert "Kadıköy" in made.text


def test_a_foreign_national_is_registered_by_passport_and_a_woman_with_her_maternal_status(
    server: LiveServer, console: ConsoleClient
) -> None:
    passport = new_passport()
    made = register(
        console,
        identity_number="",
        passport_no=passport,
        nationality="DE",
        first_name="Anna",
        last_name="Schmidt",
        sex="2",
        maternal_status="3",
        autopsy="yes",
        injured_at="",
        death_district="",
    )
    assert made.status_code == 201, made.text
    record = stored(server, made.text).record
    assert (record.identity_number, record.passport_no, record.nationality) == (
        None,
        passport,
        "DE",
    )
    assert (record.sex, record.maternal_status, record.autopsy) == (2, 3, True)
    assert record.injured_at is None
    assert record.death_place.district is None


def test_a_form_is_opened_by_its_numbers_and_shows_its_status_and_history(
    server: LiveServer, console: ConsoleClient
) -> None:
    env, form_no, ref = key_of(register(console).text)
    opened = console.get(
        "/console/death-forms", params={"form_no": form_no, "ref": ref.lower(), "env": env}
    )
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/console/death-forms/{form_no}?env={env}&ref={ref}"
    before = last_change_id(server.engine)
    page = console.get(opened.headers["location"])
    assert page.status_code == 200
    assert form_no in page.text
    assert ref in page.text
    assert "Kaydedildi" in page.text  # status and history, in Turkish by default
    reads = changes_since(server.engine, before)
    assert [(r["action"], r["entity"], r["target"]) for r in reads] == [
        ("read", "death_form", form_no)
    ]
    assert reads[0]["actor"] == f"console:{console.operator}"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"form_no": "1234567890", "ref": "NOSUCHRF", "env": "test"}, 404),
        ({"form_no": "1234567890", "ref": "", "env": "test"}, 422),
        ({"form_no": "1234567890", "ref": "ABC", "env": "prod"}, 422),
        ({"form_no": "12ab", "ref": "ABC", "env": "test"}, 404),
    ],
)
def test_a_form_that_cannot_be_opened_is_refused_on_the_lookup_page(
    console: ConsoleClient, params: dict[str, str], status: int
) -> None:
    found = console.get("/console/death-forms", params=params)
    if found.status_code == 303:
        found = console.get(found.headers["location"])
    assert found.status_code == status
    assert 'role="alert"' in found.text
    assert 'name="form_no"' in found.text


def test_a_form_page_without_its_key_asks_for_it(console: ConsoleClient) -> None:
    """As the language switch leaves it: the path without the query."""
    asked = console.get("/console/death-forms/1234567890")
    assert asked.status_code == 200
    assert 'value="1234567890"' in asked.text
    assert 'role="alert"' not in asked.text


def test_a_correction_starts_from_the_stored_form_and_changes_exactly_what_was_changed(
    server: LiveServer, console: ConsoleClient
) -> None:
    env, form_no, ref = key_of(register(console).text)
    url = f"/console/death-forms/{form_no}/correct?env={env}&ref={ref}"
    editor = console.get(url)
    assert editor.status_code == 200
    unchanged = console.post(url, form_fields(editor.text))
    assert unchanged.status_code == 200, unchanged.text
    assert "Değişiklik yok" in unchanged.text
    fields = {**form_fields(editor.text), "manner": "7", "cause_1_interval": "3 gün"}
    before = last_change_id(server.engine)
    corrected = console.post(url, fields)
    assert corrected.status_code == 200, corrected.text
    notice = re.search(r'<div class="notice" role="status">(.*?)</div>', corrected.text, re.S)
    assert notice
    assert "Ölüm şekli" in notice.group(1)
    assert "Ölüm nedeni" in notice.group(1)
    form = registry(server).form(env, form_no, ref)
    assert form.record.manner == 7
    assert form.record.causes[1].interval == "3 gün"
    history = form.history
    assert [h["action"] for h in history] == ["registered", "corrected", "corrected"]
    assert history[1]["changes"] is None  # sent back unchanged
    assert set(history[2]["changes"]) == {"manner", "causes"}
    change = [c for c in changes_since(server.engine, before) if c["action"] == "correct"]
    assert len(change) == 1
    assert change[0]["actor"] == f"console:{console.operator}"
    assert change[0]["after"]["manner"] == 7


def test_approving_and_returning_set_the_status_and_are_logged_under_the_operator(
    server: LiveServer, console: ConsoleClient
) -> None:
    env, form_no, ref = key_of(register(console).text)
    before = last_change_id(server.engine)
    approved = console.post(f"/console/death-forms/{form_no}/approve?env={env}&ref={ref}")
    assert approved.status_code == 200
    assert registry(server).form(env, form_no, ref).status == APPROVED
    assert "Formu onayla" not in approved.text  # already approved: only return is offered
    returned = console.post(f"/console/death-forms/{form_no}/return?env={env}&ref={ref}")
    assert returned.status_code == 200
    form = registry(server).form(env, form_no, ref)
    assert form.status == RETURNED
    assert [h["action"] for h in form.history] == ["registered", "approved", "returned"]
    rows = [c for c in changes_since(server.engine, before) if c["action"] != "read"]
    assert [(r["action"], r["after"], r["actor"]) for r in rows] == [
        ("approved", {"status": APPROVED}, f"console:{console.operator}"),
        ("returned", {"status": RETURNED}, f"console:{console.operator}"),
    ]


def test_a_status_change_of_an_unknown_form_is_refused(console: ConsoleClient) -> None:
    refused = console.post("/console/death-forms/1234567890/approve?env=test&ref=NOSUCHRF")
    assert refused.status_code == 404
    assert 'role="alert"' in refused.text


@pytest.mark.parametrize(
    ("change", "field", "label"),
    [
        (causes(), "cause_0_code", "Ölüm nedeni"),
        ({"passport_no": "P1234567"}, "identity_number", "T.C. Kimlik No"),
        ({"maternal_status": "2"}, "maternal_status", "Kadın ölümü durumu"),
        (causes(a=("I21.9", ""), b=("NOTACODE", "1 gün")), "cause_1_code", "I (b)"),
        (causes(a=("", "2 saat")), "cause_0_code", "I (a)"),
        ({"died_at": "2027-01-01T00:00"}, "died_at", "Ölüm tarihi"),
        ({"death_district": "1421"}, "death_district", "Ölüm ilçesi"),
        ({"sex": "99999999999999"}, "sex", "Cinsiyet"),
    ],
    ids=[
        "no-cause",
        "tckn-and-passport",
        "maternal-status-of-a-man",
        "unknown-icd-code",
        "interval-without-code",
        "death-in-the-future",
        "district-of-another-province",
        "oversized-number",
    ],
)
def test_a_refused_form_names_each_field_to_fix_without_its_value_and_keeps_what_was_typed(
    server: LiveServer, console: ConsoleClient, change: dict[str, str], field: str, label: str
) -> None:
    sent = death_form()
    if "cause_0_kind" in change:
        sent = {k: v for k, v in sent.items() if not k.startswith("cause_")}
    sent.update(change)
    before = last_change_id(server.engine)
    refused = console.post("/console/death-forms/new", sent)
    assert refused.status_code == 422, refused.text
    reason = alert(refused.text)
    assert label in reason
    assert f'href="#f-{field}"' in refused.text
    assert f'id="f-{field}"' in refused.text
    for value in (sent["identity_number"], *change.values()):
        if len(value) > 3:
            assert value not in reason
    # the form is shown again as typed, the field marked
    assert f'value="{sent["identity_number"]}"' in refused.text
    assert re.search(rf'id="f-{field}"[^>]*aria-invalid="true"', refused.text) or field in {
        "death_district"
    }
    assert changes_since(server.engine, before) == []


def test_an_invalid_identity_number_is_refused_naming_the_field_never_the_number(
    console: ConsoleClient,
) -> None:
    valid = new_tckn()
    wrong = valid[:10] + str((int(valid[10]) + 1) % 10)  # the last check digit no longer holds
    refused = register(console, identity_number=wrong)
    assert refused.status_code == 422
    reason = alert(refused.text)
    assert "T.C. Kimlik No" in reason
    assert "identity_number" in reason
    assert wrong not in reason


def test_the_icd_completion_offers_real_codes_and_nothing_for_nonsense(
    console: ConsoleClient,
) -> None:
    offered = console.get("/console/icd", params={"q": "I21"})
    assert offered.status_code == 200
    assert '<option value="I21.9">I21.9 Acute myocardial infarction, unspecified</option>' in (
        offered.text
    )
    assert "<html" not in offered.text  # a fragment for the datalist
    as_typed = console.get("/console/icd", params={"cause_3_code": "myocardial infarction"})
    assert 'value="I21"' in as_typed.text
    for nonsense in ("xqzv", "", "I99.99"):
        assert "<option" not in console.get("/console/icd", params={"q": nonsense}).text


def test_the_pages_need_a_session(server: LiveServer) -> None:
    with server.client() as anonymous:
        for path in ("/console/death-forms", "/console/death-forms/new", "/console/icd?q=I21"):
            answer = anonymous.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console/sign-in"


# --- in a browser -------------------------------------------------------------------------------


def choose_completion(page: Any, line: int, typed: str, code: str) -> None:
    """Types in a cause line's code input, waits for the ICD completion to offer ``code``, and
    takes it as the operator does: the offered option's value goes into the input."""
    box = page.locator(f"#f-cause_{line}_code")
    box.click()
    box.press_sequentially(typed, delay=40)
    option = page.locator(f'#icd-{line} option[value="{code}"]')
    option.wait_for(state="attached")
    box.fill(option.get_attribute("value"))


def test_a_death_form_registered_and_approved_in_the_browser_is_listed_by_the_obs_feed(
    page: Any,
    server: LiveServer,
    make_user: Callable[..., Credential],
) -> None:
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    tckn = new_tckn()
    page.goto(f"{server.base_url}/console/death-forms")
    assert_accessible(page)
    page.get_by_role("link", name=re.compile("Yeni ölüm formu kaydet")).click()
    page.wait_for_url(re.compile(r"/console/death-forms/new$"))
    assert_accessible(page)
    screenshot(page, server, "death-form-new")

    page.locator("#f-env").select_option("test")
    page.locator("#f-identity_number").fill(tckn)
    page.locator("#f-first_name").fill("Ayşe")
    page.locator("#f-last_name").fill("Demir")
    page.get_by_label("Baba adı").fill("Ali")
    page.get_by_label("Anne adı").fill("Zeynep")
    page.get_by_label("Doğum tarihi").fill("1948-02-10")
    page.get_by_label("Doğum yeri").fill("İzmir")
    page.get_by_label("Cinsiyet").select_option(label="Kadın")
    page.locator("#f-residence_province").select_option("35")
    page.locator('#f-residence_district option[value="1819"]').wait_for(state="attached")
    page.locator("#f-residence_district").select_option("1819")
    page.get_by_label("Ölüm tarihi ve saati").fill("2026-06-15T08:05")
    page.get_by_label("Ölüm yeri türü").select_option(label="Ev")
    page.get_by_label("Ölüm şekli").select_option(label="Bulaşıcı olmayan hastalık")
    page.get_by_label(re.compile("Kadın ölümü durumu")).select_option("1")
    page.get_by_label("Otopsi").select_option("no")
    page.locator("#f-death_province").select_option("35")
    page.locator('#f-death_district option[value="1819"]').wait_for(state="attached")
    page.locator("#f-death_district").select_option("1819")
    choose_completion(page, 0, "I21", "I21.9")
    page.locator("#f-cause_0_interval").fill("3 saat")
    choose_completion(page, 3, "atherosclerotic heart", "I25.1")
    page.locator("#f-cause_3_interval").fill("12 yıl")
    choose_completion(page, 4, "E11", "E11.9")
    screenshot(page, server, "death-form-filled")

    page.get_by_role("button", name="Ölüm formunu kaydet").click()
    page.get_by_text("Ölüm formu kaydedildi").wait_for()
    page.get_by_role("button", name="Formu onayla").click()
    page.get_by_text("Formun yeni durumu: Onaylandı.").wait_for()
    history = page.locator("table").nth(1)
    assert "Kaydedildi" in history.inner_text()
    assert "Onaylandı" in history.inner_text()
    assert_accessible(page)
    screenshot(page, server, "death-form-approved")

    env, form_no, ref = key_of(page.content())
    assert env == "test"
    form = registry(server).form(env, form_no, ref)
    assert form.status == APPROVED
    assert [(c.kind, c.icd_code, c.interval) for c in form.record.causes] == [
        (1, "I21.9", "3 saat"),
        (4, "I25.1", "12 yıl"),
        (5, "E11.9", None),
    ]
    assert form.record.identity_number == tckn
    assert all(tckn not in url for url in visited), "the identity number went into a URL"

    user = make_user(env="test")
    day = server.clock.now().date().isoformat()  # the feed lists forms by registration day
    with server.client() as http:
        answer = obs_get(http, "test", "GetTumOlumlerByDate", user.auth, {"Tarih": day})
    assert (form_no, ref) in pairs(success(answer))


def test_a_refused_form_in_the_browser_lists_the_fields_to_fix(
    browser: Any, server: LiveServer
) -> None:
    """In a context of its own: the ``page`` fixture counts the refusal's 422, which chromium
    reports as a failed load, as a browser error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    browser_sign_in(page, server)
    page.goto(f"{server.base_url}/console/death-forms/new")
    page.locator("#f-env").select_option("test")
    page.locator("#f-identity_number").fill(new_tckn())
    page.get_by_label("Pasaport numarası").fill(new_passport())
    page.locator("#f-first_name").fill("Ali")
    page.locator("#f-last_name").fill("Kaya")
    page.get_by_label("Cinsiyet").select_option("1")
    page.get_by_label("Ölüm tarihi ve saati").fill("2026-06-15T08:05")
    page.get_by_label("Ölüm yeri türü").select_option("2")
    page.get_by_label("Ölüm şekli").select_option("1")
    page.locator("#f-death_province").select_option("6")
    page.locator("#f-residence_province").select_option("6")
    page.locator("#f-cause_0_code").fill("I21.9")
    page.get_by_role("button", name="Ölüm formunu kaydet").click()
    page.get_by_role("alert").wait_for()
    assert "T.C. Kimlik No" in page.get_by_role("alert").inner_text()
    assert page.locator("#f-cause_0_code").input_value() == "I21.9"
    assert_accessible(page)
    screenshot(page, server, "death-form-refused")
    context.close()
    assert not errors, errors


def test_the_pages_speak_english_when_switched(console: ConsoleClient) -> None:
    console.http.cookies.set("saglik_lang", "en", path="/console")
    blank = console.get("/console/death-forms/new")
    assert "Register a death form" in blank.text
    assert "Part I: the chain of events leading directly to death" in blank.text
    assert "(d) Due to, or as a consequence of, (c): the underlying cause" in blank.text


def test_a_correction_in_the_browser_changes_only_the_field_changed(
    page: Any, server: LiveServer
) -> None:
    """A form registered elsewhere with seconds in its time of death: the correction form keeps
    them, so changing the manner changes the manner alone."""
    body = form_body(died_at="2026-06-15T10:30:15+03:00", injured_at="2026-06-15T09:10:05")
    body["causes"] = [
        {"kind": 1, "icd_code": "J18.9", "interval": "5 gün"},
        {"kind": 4, "icd_code": "C34.9", "interval": "1 yıl"},
    ]
    form_no, ref = registry(server).register("test", parse_form(json.dumps(body)))
    page.goto(f"{server.base_url}/console/death-forms/{form_no}?env=test&ref={ref}")
    page.get_by_role("link", name="Formu düzelt").click()
    page.wait_for_url(re.compile(rf"/console/death-forms/{form_no}/correct\?"))
    assert page.locator("#f-died_at").input_value() == "2026-06-15T10:30:15"
    assert page.locator("#f-cause_3_code").input_value() == "C34.9"
    assert_accessible(page)
    screenshot(page, server, "death-form-correct")
    page.get_by_label("Ölüm şekli").select_option("99")
    page.get_by_role("button", name="Düzeltmeyi kaydet").click()
    notice = page.get_by_role("status")
    notice.wait_for()
    assert "Ölüm şekli" in notice.inner_text()
    assert "Ölüm tarihi" not in notice.inner_text()
    history = page.locator("table").nth(1).inner_text()
    assert "Düzeltildi" in history
    assert_accessible(page)
    screenshot(page, server, "death-form-corrected")
    form = registry(server).form("test", form_no, ref)
    assert form.record.manner == 99
    assert set(form.history[-1]["changes"]) == {"manner"}
    page.get_by_role("button", name="Formu düzeltilmek üzere iade et").click()
    page.get_by_text("Formun yeni durumu: İade edildi.").wait_for()
    assert registry(server).form("test", form_no, ref).status == RETURNED
