"""The audit pages of the console after real G2G calls over HTTP: the calls and each of their
filters, the data subject's "who queried this person, and when" (asked by POST, never in a
URL), and the change log with a change made through the console."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from saglik.services.accounts import AccountService
from tests.conftest import Credential, Holder, LiveServer
from tests.web.admin_support import new_tckn, unique
from tests.web.conftest import path
from tests.web.console.console_support import (
    ConsoleClient,
    assert_accessible,
    new_token,
    screenshot,
    sign_in,
)
from tests.web.obs_helpers import obs_get

EMPLOYEE = "check-employee-hes-code"
BY_TC = "GetOlumByTcKimlikNoBasic"
ALERT = 'role="alert"'


# --- reading the pages ---------------------------------------------------------------------------


class _Tables(HTMLParser):
    """The rows of every ``table.audit`` (and the subject's institutions), as cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if len(self._row) > 1:  # not the one-cell "nothing found" row
                self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> list[list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


CALL_COLUMNS = ("time", "env", "service", "method", "institution", "user", "status", "outcome")


def call_rows(html: str, table: int = 0) -> list[dict[str, str]]:
    """The calls table's rows (the first table of the page unless told), by column."""
    return [dict(zip(CALL_COLUMNS, row, strict=False)) for row in tables(html)[table]]


def calls_page(console: ConsoleClient, **filters: str) -> httpx.Response:
    return console.get(f"/console/audit/calls?{urlencode(filters)}")


def poll(read: Callable[[], Any], done: Callable[[Any], bool], seconds: float = 5.0) -> Any:
    """Audit rows are committed by a group committer: read until ``done`` or the time is up."""
    deadline = time.monotonic() + seconds
    while True:
        found = read()
        if done(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def wait_for_calls(console: ConsoleClient, institution: str, count: int) -> list[dict[str, str]]:
    def read() -> list[dict[str, str]]:
        return call_rows(calls_page(console, institution=institution).text)

    rows: list[dict[str, str]] = poll(read, lambda rows: len(rows) >= count)
    assert len(rows) == count, rows
    return rows


# --- making calls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    institution: str
    credential: Credential


@pytest.fixture
def caller(
    make_user: Callable[..., Credential], accounts: AccountService
) -> Callable[[str], Caller]:
    def make(env: str = "live") -> Caller:
        credential = make_user(env=env)
        institution = accounts.user(env, credential.username).institution_name
        return Caller(institution, credential)

    return make


def hes_check(
    server: LiveServer, who: Caller, code: str, *, password: str | None = None
) -> httpx.Response:
    auth = (who.credential.username, password or who.credential.password)
    with server.client() as client:
        return client.post(path(who.credential.env, EMPLOYEE), json={"hes_code": code}, auth=auth)


def obs_by_tc(server: LiveServer, who: Caller, holder: Holder) -> httpx.Response:
    params = {
        "TcKimlikNo": holder.identity_number,
        "Adi": holder.first_name,
        "Soyadi": holder.last_name,
        "DogumTarihi": "1950-01-01",
    }
    with server.client() as client:
        return obs_get(client, who.credential.env, BY_TC, who.credential.auth, params)


@dataclass(frozen=True)
class Traffic:
    live: Caller
    sandbox: Caller
    holder: Holder


@pytest.fixture
def traffic(
    server: LiveServer,
    caller: Callable[[str], Caller],
    make_holder: Callable[..., Holder],
) -> Traffic:
    """At 12:00 Istanbul: a live HES check (ok), a wrong password (refused) and a test-environment
    HES check; at 12:20 a live ÖBS lookup of the same person (not found). (A console session
    idles out after 30 minutes of the server's clock.)"""
    live, sandbox = caller("live"), caller("test")
    holder, test_holder = make_holder(env="live"), make_holder(env="test")
    assert hes_check(server, live, holder.code).status_code == 200
    assert hes_check(server, live, holder.code, password="not-the-password").status_code == 401
    assert hes_check(server, sandbox, test_holder.code).status_code == 200
    server.clock.advance(timedelta(minutes=20))
    assert obs_by_tc(server, live, holder).status_code == 200
    return Traffic(live, sandbox, holder)


# --- calls ----------------------------------------------------------------------------------------


def test_the_calls_page_lists_the_calls_just_made(console: ConsoleClient, traffic: Traffic) -> None:
    rows = wait_for_calls(console, traffic.live.institution, 3)
    assert [(r["service"], r["method"], r["outcome"], r["status"]) for r in rows] == [
        ("ÖBS", BY_TC, "not-found", "200"),
        ("HES", EMPLOYEE, "wrong-password", "401"),
        ("HES", EMPLOYEE, "ok", "200"),
    ], "newest first"
    assert {r["institution"] for r in rows} == {traffic.live.institution}
    assert {r["user"] for r in rows} == {traffic.live.credential.username}
    assert rows[2]["time"].startswith("15 Haz 2026 12:00")  # Istanbul time, in Turkish


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"method": EMPLOYEE}, ["wrong-password", "ok"]),
        ({"method": BY_TC}, ["not-found"]),
        ({"outcome": "ok"}, ["ok"]),
        ({"outcome": "wrong-password"}, ["wrong-password"]),
        ({"outcome": "throttled"}, []),
        ({"env": "live"}, ["not-found", "wrong-password", "ok"]),
        ({"env": "test"}, []),
        ({"since": "2026-06-15T12:10"}, ["not-found"]),
        ({"until": "2026-06-15T12:10"}, ["wrong-password", "ok"]),
        ({"since": "2026-06-15T12:00", "until": "2026-06-15T12:20"}, ["wrong-password", "ok"]),
        ({"limit": "1"}, ["not-found"]),
    ],
)
def test_each_filter_narrows_the_calls(
    console: ConsoleClient, traffic: Traffic, filters: dict[str, str], expected: list[str]
) -> None:
    wait_for_calls(console, traffic.live.institution, 3)
    answer = calls_page(console, institution=traffic.live.institution, **filters)
    assert answer.status_code == 200
    assert [r["outcome"] for r in call_rows(answer.text)] == expected
    for name, value in filters.items():  # the form shows the filters it applied
        assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', answer.text) or (
            f'<option value="{value}" selected>' in answer.text
        )


def test_the_environment_and_institution_filters_find_the_sandbox_call(
    console: ConsoleClient, traffic: Traffic
) -> None:
    rows = wait_for_calls(console, traffic.sandbox.institution, 1)
    assert rows[0]["env"] == "Test"
    answer = calls_page(console, institution=traffic.sandbox.institution, env="test")
    assert [r["user"] for r in call_rows(answer.text)] == [traffic.sandbox.credential.username]
    assert (
        call_rows(calls_page(console, institution=traffic.sandbox.institution, env="live").text)
        == []
    )


def test_the_filters_offer_every_method_outcome_and_known_institution(
    console: ConsoleClient, traffic: Traffic
) -> None:
    page = console.get("/console/audit/calls").text
    for value in (EMPLOYEE, BY_TC, "(unknown)", "ok", "wrong-password", "rate-limited"):
        assert f'<option value="{value}"' in page
    assert f'<option value="{traffic.live.institution}"' in page


@pytest.mark.parametrize(
    ("filters", "status", "reason"),
    [
        (
            {"since": "2026-06-15T13:00", "until": "2026-06-15T12:00"},
            422,
            "Bitiş, başlangıçtan sonra olmalı",
        ),
        ({"since": "yesterday"}, 422, "Girilen zaman geçerli bir tarih ve saat değil"),
        ({"limit": "0"}, 422, "Satır sayısı 1 ile 10000 arasında"),
        ({"limit": "many"}, 422, "Satır sayısı bir tam sayı olmalı"),
        ({"outcome": "fine"}, 422, "unknown outcome"),
        ({"method": "no-such"}, 422, "unknown method"),
        ({"env": "prod"}, 422, "Ortam live ya da test olmalı"),
        ({"institution": "No Such Institution Anywhere"}, 404, "no institution named"),
    ],
)
def test_a_bad_filter_is_refused_on_the_page(
    console: ConsoleClient, filters: dict[str, str], status: int, reason: str
) -> None:
    answer = calls_page(console, **filters)
    assert answer.status_code == status
    assert ALERT in answer.text
    assert reason in answer.text


# --- the data subject's view ---------------------------------------------------------------------


def test_the_subject_view_shows_who_queried_the_person_and_logs_the_look(
    console: ConsoleClient, traffic: Traffic
) -> None:
    wait_for_calls(console, traffic.live.institution, 3)
    answer = console.post(
        "/console/audit/subject", {"identity_number": traffic.holder.identity_number}
    )
    assert answer.status_code == 200
    institutions, calls, _changes = tables(answer.text)
    assert [row[0] for row in institutions] == [traffic.live.institution]
    assert institutions[0][2] == "2", "the ÖBS lookup and the HES check"
    assert [(r[3], r[7]) for r in calls] == [(BY_TC, "not-found"), (EMPLOYEE, "ok")]

    reads = console.get("/console/audit/changes?entity=subject_view")
    newest = tables(reads.text)[0][0]
    assert newest[1] == f"console:{console.operator}"
    assert newest[4] == "read"


def test_the_subject_view_by_code_shows_the_code_checks_only(
    console: ConsoleClient, traffic: Traffic
) -> None:
    wait_for_calls(console, traffic.live.institution, 3)
    answer = console.post("/console/audit/subject", {"code": traffic.holder.code.lower()})
    assert answer.status_code == 200
    calls = tables(answer.text)[1]
    assert [(r[3], r[4], r[7]) for r in calls] == [(EMPLOYEE, traffic.live.institution, "ok")]


def test_the_subject_view_honours_its_window(console: ConsoleClient, traffic: Traffic) -> None:
    wait_for_calls(console, traffic.live.institution, 3)
    fields = {"identity_number": traffic.holder.identity_number, "since": "2026-06-15T12:10"}
    calls = tables(console.post("/console/audit/subject", fields).text)[1]
    assert [r[3] for r in calls] == [BY_TC]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"identity_number": "12345678901"}, "Geçerli bir T.C. Kimlik No değil"),
        ({"code": "not-a-code"}, "Bu bir HES kodu değil"),
        ({}, "yalnızca birini girin"),
        ({"identity_number": new_tckn(), "code": "A1B2C3D4E5"}, "yalnızca birini girin"),
        (
            {
                "identity_number": new_tckn(),
                "since": "2026-06-15T13:00",
                "until": "2026-06-15T12:00",
            },
            "Bitiş, başlangıçtan sonra olmalı",
        ),
    ],
)
def test_a_bad_subject_question_is_refused_on_the_page(
    console: ConsoleClient, fields: dict[str, str], reason: str
) -> None:
    answer = console.post("/console/audit/subject", fields)
    assert answer.status_code == 422
    assert ALERT in answer.text
    assert reason in answer.text


def test_a_refusal_is_shown_in_the_operators_language(console: ConsoleClient) -> None:
    console.http.cookies.set("saglik_lang", "en")
    answer = calls_page(console, since="2026-06-15T13:00", until="2026-06-15T12:00")
    assert answer.status_code == 422
    assert "until must be after since" in answer.text
    assert "Show calls" in answer.text


def test_the_subject_view_is_asked_only_by_post(console: ConsoleClient) -> None:
    page = console.get("/console/audit/subject")
    assert page.status_code == 200
    assert re.search(r'<form method="post" action="/console/audit/subject"', page.text)
    refused = console.http.post(
        "/console/audit/subject", data={"identity_number": new_tckn()}
    )  # no CSRF token
    assert refused.status_code == 403


# --- the change log -------------------------------------------------------------------------------


def test_a_change_made_in_the_console_is_in_the_change_log(console: ConsoleClient) -> None:
    name = unique("desk")
    assert console.post("/console/tokens", {"name": name}).status_code == 201
    answer = console.get("/console/audit/changes?entity=operator_token&limit=5")
    assert answer.status_code == 200
    rows = tables(answer.text)[0]
    assert rows[0][1:6] == [f"console:{console.operator}", "—", "operator_token", "create", name]


def test_the_change_log_shows_before_and_after_readably(
    console: ConsoleClient, caller: Callable[[str], Caller], accounts: AccountService
) -> None:
    who = caller("live")
    accounts.update_user("live", who.credential.username, active=False)
    answer = console.get("/console/audit/changes?entity=service_user&limit=1")
    row = tables(answer.text)[0][0]
    assert row[3:6] == ["service_user", "update", who.credential.username]
    shown = html.unescape(answer.text)
    assert '<pre>{\n  "active": true\n}</pre>' in shown
    assert '<pre>{\n  "active": false\n}</pre>' in shown


def test_the_change_log_filters_by_window_and_refuses_a_bad_one(server: LiveServer) -> None:
    earlier, _ = new_token(server)
    server.clock.advance(timedelta(days=3))
    console = sign_in(server)  # a session of this later day (its token is made now too)
    name = unique("later")
    assert console.post("/console/tokens", {"name": name}).status_code == 201
    later = console.get("/console/audit/changes?since=2026-06-18T11:00&entity=operator_token")
    assert [r[5] for r in tables(later.text)[0]] == [name, console.operator]
    before = console.get(
        "/console/audit/changes?until=2026-06-18T11:00&entity=operator_token&limit=1000"
    )
    assert earlier in [r[5] for r in tables(before.text)[0]]
    refused = console.get("/console/audit/changes?since=2026-06-18T11:00&until=2026-06-18T10:00")
    assert refused.status_code == 422
    assert ALERT in refused.text


# --- in a browser ---------------------------------------------------------------------------------


def test_the_audit_pages_in_a_browser(
    page: Any, server: LiveServer, traffic: Traffic, accounts: AccountService
) -> None:
    """The operator filters the calls, looks up the person just queried (the identity number
    travels in no URL), and finds a token created in the console in the change log."""
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    operator = page.locator("header .who strong").inner_text()
    base = server.base_url

    page.goto(f"{base}/console/audit/calls")
    page.get_by_label(re.compile("^(Kurum|Institution)$")).select_option(traffic.live.institution)
    page.get_by_label(re.compile("^(Sonuç|Outcome)$")).select_option("ok")
    page.get_by_role("button", name=re.compile("^(Çağrıları göster|Show calls)$")).click()
    page.wait_for_url(re.compile(r"outcome=ok"))
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1
    assert EMPLOYEE in rows.first.inner_text()
    assert_accessible(page)
    screenshot(page, server, "audit-calls")

    page.get_by_role(
        "link", name=re.compile("^(Kişiyi kim sorguladı|Who queried a person)$")
    ).click()
    page.get_by_label("T.C. Kimlik No").fill(traffic.holder.identity_number)
    page.get_by_role(
        "button", name=re.compile("^(Sorgulayanları göster|Show who queried)$")
    ).click()
    page.wait_for_load_state()
    institutions = page.locator("section[aria-labelledby=subject-institutions] table")
    assert traffic.live.institution in institutions.inner_text()
    calls = page.locator("section[aria-labelledby=subject-calls] table").inner_text()
    assert EMPLOYEE in calls
    assert BY_TC in calls
    assert_accessible(page)
    screenshot(page, server, "audit-subject")

    name = unique("browser-desk")
    page.goto(f"{base}/console/tokens")
    page.get_by_label(re.compile("^(Ad|Name)$")).fill(name)
    page.get_by_role("button", name=re.compile("^(Oluştur|Create)$")).click()
    page.goto(f"{base}/console/audit/changes")
    page.get_by_label(re.compile("^(Kayıt türü|Entity)$")).fill("operator_token")
    page.get_by_role("button", name=re.compile("^(Değişiklikleri göster|Show changes)$")).click()
    page.wait_for_url(re.compile(r"entity=operator_token"))
    newest = page.locator("table.audit tbody tr").first.inner_text()
    assert f"console:{operator}" in newest
    assert name in newest
    assert_accessible(page)
    screenshot(page, server, "audit-changes")

    accounts.update_user("live", traffic.live.credential.username, active=False)
    page.goto(f"{base}/console/audit/changes?entity=service_user&limit=5")
    page.locator("table.audit tbody tr").first.locator("summary").click()
    assert '"active": false' in page.locator("table.audit tbody tr").first.inner_text()
    assert_accessible(page)
    screenshot(page, server, "audit-changes-details")

    assert visited
    for url in visited:
        assert traffic.holder.identity_number not in url
