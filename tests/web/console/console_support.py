"""Helpers for the console's tests: an operator signed in over a real socket (httpx, or chromium
through Playwright), the CSRF token of the page, screenshots as artefacts, and axe-core."""

from __future__ import annotations

import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.web.admin_support import token_service

ARTIFACTS = Path(os.environ.get("SAGLIK_ARTIFACTS", "test-artifacts")) / "console"
"""Where the browser tests write a screenshot of every page they visit (gitignored)."""

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def new_token(server: LiveServer, prefix: str = "console") -> tuple[str, str]:
    """(name, token) of a fresh operator token in the server's store."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    return name, token_service(server.engine, server.clock).create(name)


@dataclass
class ConsoleClient:
    """An operator signed in to the console over HTTP, as a browser without scripts would be."""

    http: httpx.Client
    operator: str
    csrf: str

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """A form post carrying the session's CSRF token, as every console form does."""
        return self.http.post(path, data={**(data or {}), "csrf_token": self.csrf})


def sign_in(server: LiveServer) -> ConsoleClient:
    name, token = new_token(server)
    http = server.client()
    form = http.get("/console/sign-in")
    answer = http.post("/console/sign-in", data={"token": token, "csrf_token": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text
    page = http.get("/console/tokens")
    assert page.status_code == 200
    return ConsoleClient(http, name, csrf_of(page.text))


def backend(server: LiveServer) -> str:
    return server.engine.dialect.name


def screenshot(page: Any, server: LiveServer, name: str) -> Path:
    """Writes the whole page as ``<name>-<backend>.png`` under ``ARTIFACTS``."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}-{backend(server)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_sign_in(page: Any, server: LiveServer) -> str:
    """Signs in through the sign-in form, as an operator would; returns the token's name."""
    name, token = new_token(server)
    page.goto(f"{server.base_url}/console/sign-in")
    page.get_by_label(re.compile("Operatör anahtarı|Operator token")).fill(token)
    page.get_by_role("button", name=re.compile("^(Oturum aç|Sign in)$")).click()
    page.wait_for_url(re.compile(r"/console/dashboards$"))
    return name


def assert_accessible(page: Any) -> None:
    """axe-core's WCAG 2.1 A/AA rules find nothing on the page as it stands."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]})
    assert results.violations_count == 0, results.generate_report()
