"""Operator tokens in the console: created and shown once, listed, revoked — and a revoked token's
console sessions end with it."""

from __future__ import annotations

import re
from typing import Any

from tests.conftest import LiveServer
from tests.web.console.console_support import (
    ConsoleClient,
    assert_accessible,
    screenshot,
    sign_in,
)


def test_a_created_token_is_shown_once_and_then_listed_without_its_value(
    console: ConsoleClient,
) -> None:
    made = console.post("/console/tokens", {"name": "desk-1"})
    assert made.status_code == 201
    token = re.search(r"sgo_[A-Za-z0-9_-]{40,}", made.text)
    assert token
    listed = console.get("/console/tokens")
    assert "desk-1" in listed.text
    assert token.group(0) not in listed.text


def test_a_bad_name_is_refused_on_the_page_with_the_services_reason(
    console: ConsoleClient,
) -> None:
    refused = console.post("/console/tokens", {"name": "no spaces allowed"})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert "token name must be" in refused.text


def test_revoking_the_token_that_opened_a_session_ends_that_session(
    server: LiveServer, console: ConsoleClient
) -> None:
    other = sign_in(server)
    revoked = console.post("/console/tokens/revoke", {"name": other.operator})
    assert revoked.status_code == 200
    after = other.get("/console/tokens")
    assert after.status_code == 303
    assert after.headers["location"] == "/console/sign-in"


def test_the_tokens_page_in_a_browser(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/console/tokens")
    page.get_by_label(re.compile("^(Ad|Name)$")).fill("browser-made")
    page.get_by_role("button", name=re.compile("^(Oluştur|Create)$")).click()
    assert page.locator("code.secret").inner_text().startswith("sgo_")
    assert_accessible(page)
    screenshot(page, server, "tokens")
