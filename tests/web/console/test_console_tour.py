"""A tour of the console in chromium: every page of the navigation opens, passes axe-core, and
leaves its screenshot; and through a whole working session — a person looked up, a code issued,
the subject's view opened — no identity number or HES code reaches a URL or a log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Holder, LiveServer
from tests.web.console.console_support import assert_accessible, screenshot
from tests.web.log_support import record_texts

NAVIGATION = {
    "Panolar": "/console/dashboards",
    "Kurumlar ve kullanıcılar": "/console/users",
    "Operatör anahtarları": "/console/tokens",
    "Kişiler ve HES kodları": "/console/persons",
    "Ölüm formları": "/console/death-forms",
    "Denetim kayıtları": "/console/audit/calls",
}


def test_every_page_of_the_navigation_opens_and_is_accessible(
    page: Any, server: LiveServer
) -> None:
    page.goto(f"{server.base_url}/console/")
    for name, path in NAVIGATION.items():
        page.get_by_role("navigation").get_by_role("link", name=name).click()
        page.wait_for_url(re.compile(re.escape(path) + "$"))
        current = page.get_by_role("navigation").get_by_role("link", name=name)
        assert current.get_attribute("aria-current") == "page"
        assert_accessible(page)
    screenshot(page, server, "audit-calls-empty-filters")
    page.goto(f"{server.base_url}/console/death-forms")
    screenshot(page, server, "death-forms")


def test_a_working_session_puts_no_personal_value_in_a_url_or_a_log_line(
    page: Any,
    server: LiveServer,
    make_holder: Callable[..., Holder],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    holder = make_holder(env="test")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))

    page.goto(f"{server.base_url}/console/persons")
    search = page.locator("form", has=page.get_by_role("button", name="Kaydı göster"))
    search.get_by_label("Ortam").select_option("test")
    search.get_by_label("T.C. Kimlik No").fill(holder.identity_number)
    search.get_by_role("button", name="Kaydı göster").click()
    page.get_by_role("button", name="Kodu oluştur").click()
    issued = page.locator("code").first.inner_text()
    page.goto(f"{server.base_url}/console/audit/subject")
    page.get_by_label("T.C. Kimlik No").fill(holder.identity_number)
    page.get_by_role("button", name="Sorgulayanları göster").click()
    page.get_by_role("heading", name="Sorgulayan kurumlar").wait_for()

    secrets = (holder.identity_number, holder.code, issued)
    assert urls
    assert not [url for url in urls if any(s in url for s in secrets)]
    logged = record_texts(caplog.records)
    assert any("/console/persons/find" in text for text in logged)  # the access log ran
    assert not [text for text in logged if any(s in text for s in secrets)]
