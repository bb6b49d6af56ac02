"""``/docs`` in a real browser (Debian's chromium driven by Playwright) from a real server: the
Swagger UI renders each of the three documents under the Content-Security-Policy the server
sends, and the browser reports no violation of it and no error.

Browser availability: ``tests/browser_support.py``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.services.bootstrap import ensure_store
from saglik.store.engine import make_engine
from saglik.web.docs import SPECS
from saglik.web.security_headers import CONTENT_SECURITY_POLICY
from tests.browser_support import launched_browser
from tests.conftest import BASE_TIME, start_server
from tests.web.openapi_support import contract_spec

WAIT_MS = 20_000

VIOLATION_LISTENER = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""
"""Installed before any of the page's scripts: every violation the browser reports, as text."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launched_browser()


@pytest.fixture(scope="module")
def docs_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server of its own: the page does not depend on the store's backend."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('docs')}/saglik.db")
    ensure_store(engine)
    settings = Settings(database_url="unused-engine-injected")
    server, thread, base_url = start_server(engine, ManualClock(BASE_TIME), settings)
    yield base_url + "/docs"
    server.should_exit = True
    thread.join(timeout=15)
    engine.dispose()


def test_swagger_ui_renders_every_document_under_the_content_security_policy(
    browser: Any, docs_url: str
) -> None:
    page = browser.new_page()
    page.add_init_script(VIOLATION_LISTENER)
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda error: console.append(f"uncaught: {error}"))

    response = page.goto(docs_url)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    for name, label in SPECS.items():
        page.select_option("select#select", label=label)
        title = contract_spec(name).doc["info"]["title"]
        page.locator(".info .title", has_text=title).wait_for(timeout=WAIT_MS)
        page.locator(".opblock").first.wait_for(timeout=WAIT_MS)  # its operations are listed
    assert page.evaluate("window.cspViolations") == []
    assert console == []

    # the policy is enforced and both reports work: an inline script is refused and reported
    with contextlib.suppress(Exception):  # Playwright may also raise for the refused tag
        page.add_script_tag(content="window.inlineRan = true;")
    assert page.evaluate("window.inlineRan === undefined")
    (violation,) = page.evaluate("window.cspViolations")
    assert violation.startswith("script-src")
    assert any("Content Security Policy" in line for line in console)
    page.close()
