"""Fixtures of the console's tests: a signed-in HTTP client and a signed-in chromium page, both
on the session's live server (once per backend)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import launched_browser
from tests.conftest import LiveServer
from tests.web.console.console_support import ConsoleClient, browser_sign_in, sign_in


def _refusal(message: str) -> bool:
    """Chromium reports every 4xx page as a failed load: a refusal the test asked for is not an
    error of the page (a 5xx still is, and so is every script error and CSP violation)."""
    return message.startswith("Failed to load resource: the server responded with a status of 4")


@pytest.fixture
def console(server: LiveServer) -> Iterator[ConsoleClient]:
    client = sign_in(server)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_browser()


@pytest.fixture
def page(browser: Any, server: LiveServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) signed in through the form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="tr-TR")
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "console",
        lambda m: errors.append(m.text) if m.type == "error" and not _refusal(m.text) else None,
    )
    browser_sign_in(tab, server)
    yield tab
    context.close()
    assert not errors, f"the browser reported errors: {errors}"
