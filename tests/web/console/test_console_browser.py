"""The console's frame in chromium: the sign-in page, keyboard use, the language switch, and
signing out — after which the session is dead for the browser and for anyone holding its cookie."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tests.conftest import LiveServer
from tests.web.console.console_support import assert_accessible, screenshot


def test_the_sign_in_page_is_turkish_accessible_and_refuses_a_wrong_token(
    browser: Any, server: LiveServer
) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.base_url}/console/sign-in")
    assert page.locator("html").get_attribute("lang") == "tr"
    assert_accessible(page)
    screenshot(page, server, "sign-in")
    page.get_by_label("Operatör anahtarı").fill("sgo_not-a-token")
    page.get_by_role("button", name="Oturum aç").click()
    assert page.get_by_role("alert").inner_text().endswith("Bu anahtar geçerli değil.")
    screenshot(page, server, "sign-in-refused")
    context.close()


def test_the_keyboard_reaches_the_skip_link_first_and_focus_is_visible(
    page: Any, server: LiveServer
) -> None:
    page.goto(f"{server.base_url}/console/tokens")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")


def test_the_language_switch_turns_the_console_english_and_back(
    page: Any, server: LiveServer
) -> None:
    page.goto(f"{server.base_url}/console/tokens")
    page.get_by_role("link", name="English").click()
    page.wait_for_url(re.compile(r"/console/tokens$"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("heading", level=1).inner_text() == "Operator tokens"
    assert_accessible(page)
    screenshot(page, server, "tokens-english")
    page.get_by_role("link", name="Türkçe").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Operatör anahtarları"


def test_signing_out_in_the_browser_kills_the_session(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.base_url}/console/tokens")
    cookie = next(c for c in page.context.cookies() if c["name"] == "saglik_console")
    page.get_by_role("button", name="Oturumu kapat").click()
    page.wait_for_url(re.compile(r"/console/sign-in$"))
    page.goto(f"{server.base_url}/console/tokens")
    assert page.url.endswith("/console/sign-in")
    with httpx.Client(base_url=server.base_url, timeout=10) as replay:
        replay.cookies.set("saglik_console", cookie["value"], path="/console")
        assert replay.get("/console/tokens").status_code == 303
