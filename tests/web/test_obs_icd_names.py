"""A server started with ``SAGLIK_ICD_NAMES`` names causes by the operator's file over its socket:
in the ÖBS answers' ``IcdAdi``, in the console's completion and on its form pages alike; a code
the file does not list keeps its WHO title. (The file's rules: tests/services/test_icd_names.py.)"""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from tests.conftest import LiveServer, start_server
from tests.web.conftest import Users
from tests.web.console.console_support import ConsoleClient, sign_in
from tests.web.obs_helpers import (
    FULL_METHODS,
    PASSPORT_METHODS,
    Registered,
    Registry,
    obs_get,
    success,
)

MI_TR = "Akut miyokard enfarktüsü, tanımlanmamış"
ATHEROSCLEROSIS_TR = "Aterosklerotik kalp hastalığı"
DIABETES_WHO = "Type 2 diabetes mellitus without complications"
NAMES = f'code,name\nI21.9,"{MI_TR}"\nI251,{ATHEROSCLEROSIS_TR}\n'
"""I25.1 written without its dot; E11.9 not listed."""


@pytest.fixture(scope="module")
def named(
    store: Engine, clock: ManualClock, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("icd") / "icd-tr.csv"
    path.write_text(NAMES, encoding="utf-8")
    settings = Settings(
        database_url="unused-engine-injected", refusal_flush_seconds=0, icd_names=path
    )
    srv, thread, base_url = start_server(store, clock, settings)
    yield LiveServer(base_url, store, clock)
    srv.should_exit = True
    thread.join(timeout=15)


CAUSES = [
    {"kind": 1, "icd_code": "I21.9", "interval": "2 saat"},
    {"kind": 4, "icd_code": "I25.1", "interval": "10 yıl"},
    {"kind": 5, "icd_code": "E11.9", "interval": None},
]


@pytest.fixture
def registered(named: LiveServer) -> Registered:
    return Registry(named).register(causes=CAUSES)


@pytest.fixture
def console(named: LiveServer) -> Iterator[ConsoleClient]:
    client = sign_in(named)
    yield client
    client.http.close()


@pytest.mark.parametrize("method", FULL_METHODS)
def test_the_full_answers_name_causes_by_the_file_and_the_rest_by_the_who_title(
    named: LiveServer, users: Users, method: str
) -> None:
    reg = Registry(named).register(passport=method in PASSPORT_METHODS, causes=CAUSES)
    with named.client() as http:
        answer = obs_get(http, "live", method, users.live.auth, reg.params_for(method))
    causes = success(answer)["OlumNedenleri"]
    assert [(c["IcdKodu"], c["IcdAdi"]) for c in causes] == [
        ("I21.9", MI_TR),
        ("I25.1", ATHEROSCLEROSIS_TR),
        ("E11.9", DIABETES_WHO),
    ]
    assert "IcdAdi" in answer.text
    assert MI_TR.encode() in answer.content  # UTF-8 on the wire, not \\u escapes


def test_a_server_without_the_file_keeps_the_who_titles(server: LiveServer, users: Users) -> None:
    reg = Registry(server).register(causes=[{"kind": 1, "icd_code": "I21.9", "interval": None}])
    with server.client() as http:
        answer = obs_get(http, "live", "GetOlumByFormNoFull", users.live.auth, reg.form_params())
    [cause] = success(answer)["OlumNedenleri"]
    assert cause["IcdAdi"] == "Acute myocardial infarction, unspecified"


def test_the_console_completes_and_searches_by_the_same_names(console: ConsoleClient) -> None:
    offered = console.get("/console/icd", params={"q": "I21"})
    assert offered.status_code == 200
    assert f'<option value="I21.9">I21.9 {html.escape(MI_TR)}</option>' in offered.text
    by_words = console.get("/console/icd", params={"cause_1_code": "AKUT MİYOKARD"})
    assert 'value="I21.9"' in by_words.text
    # what is shown is what is searched: I21.9's WHO words no longer find it
    by_who_words = console.get("/console/icd", params={"q": "acute myocardial unspecified"})
    assert 'value="I21.9"' not in by_who_words.text


def test_the_console_form_pages_title_codes_by_the_same_names(
    console: ConsoleClient, registered: Registered
) -> None:
    key = f"env=live&ref={registered.referans_no}"
    shown = console.get(f"/console/death-forms/{registered.form_no}?{key}")
    correcting = console.get(f"/console/death-forms/{registered.form_no}/correct?{key}")
    for page in (shown, correcting):
        assert page.status_code == 200, page.text
        text = html.unescape(page.text)
        assert MI_TR in text
        assert ATHEROSCLEROSIS_TR in text
        assert DIABETES_WHO in text
        assert "Acute myocardial infarction, unspecified" not in text
