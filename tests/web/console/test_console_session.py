"""Signing in and out of the console over a real socket: the session cookie's flags, the idle
timeout, the guessing throttle, CSRF and cross-site refusals, the form size bound, the language
switch — and that no personal value reaches a URL or an access-log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from http.cookies import SimpleCookie

import httpx
import pytest
from sqlalchemy import Engine, func, select

from saglik.config import Settings
from saglik.domain import throttle
from saglik.domain.clock import ManualClock
from saglik.store.schema import console_sessions, operator_changes
from saglik.web.console.guard import MAX_FORM_BYTES
from tests.conftest import LiveServer, start_server
from tests.web.console.console_support import ConsoleClient, csrf_of, new_token, sign_in
from tests.web.log_support import record_texts, wait_for_access_log


def _cookie(answer: httpx.Response, name: str) -> SimpleCookie:
    for header in answer.headers.get_list("set-cookie"):
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        if name in jar:
            return jar
    raise AssertionError(f"no {name} cookie set")


def _attempt(http: httpx.Client, token: str) -> httpx.Response:
    form = http.get("/console/sign-in")
    return http.post("/console/sign-in", data={"token": token, "csrf_token": csrf_of(form.text)})


def test_an_unsigned_visitor_is_sent_to_the_sign_in_page_from_every_page(
    server: LiveServer,
) -> None:
    with server.client() as http:
        for path in ("/console/", "/console/tokens", "/console/users", "/console/nowhere"):
            answer = http.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/console/sign-in"
        assert (
            http.get("/console/tokens", headers={"HX-Request": "true"}).headers["hx-redirect"]
            == "/console/sign-in"
        )


def test_the_session_cookie_is_httponly_strict_and_scoped_to_the_console(
    server: LiveServer,
) -> None:
    _, token = new_token(server)
    with server.client() as http:
        answer = _attempt(http, token)
    assert answer.status_code == 303
    morsel = _cookie(answer, "saglik_console")["saglik_console"]
    assert morsel["httponly"] is True
    assert morsel["samesite"].lower() == "strict"
    assert morsel["path"] == "/console"
    assert not morsel["secure"]  # plain HTTP here: a Secure cookie would never come back
    assert token not in answer.headers.get("set-cookie", "")


@pytest.fixture
def behind_tls_proxy(store: Engine, clock: ManualClock) -> Iterator[str]:
    """A server behind a TLS-terminating proxy on 127.0.0.1 (it sends X-Forwarded-Proto)."""
    settings = Settings(database_url="unused", trusted_proxies=("127.0.0.1/32",))
    srv, thread, base_url = start_server(store, clock, settings)
    yield base_url
    srv.should_exit = True
    thread.join(timeout=15)


def test_behind_tls_the_session_cookie_is_also_secure(
    server: LiveServer, behind_tls_proxy: str
) -> None:
    _, token = new_token(server)
    tls = {"X-Forwarded-Proto": "https"}
    with httpx.Client(base_url=behind_tls_proxy, timeout=10, headers=tls) as http:
        form = http.get("/console/sign-in")
        pre = _cookie(form, "saglik_console_pre")["saglik_console_pre"]
        assert pre["secure"] is True
        # the browser sends a Secure cookie back over TLS; httpx here speaks plain HTTP
        answer = http.post(
            "/console/sign-in",
            data={"token": token, "csrf_token": csrf_of(form.text)},
            headers={"Cookie": f"saglik_console_pre={pre.value}"},
        )
    assert answer.status_code == 303
    assert _cookie(answer, "saglik_console")["saglik_console"]["secure"] is True


def test_a_wrong_token_is_refused_and_repeated_guesses_lock_the_address(
    server: LiveServer,
) -> None:
    _, token = new_token(server)
    with server.client() as http:
        for n in range(throttle.FREE_FAILURES + 1):
            answer = _attempt(http, f"sgo_wrong-{n}")
            assert answer.status_code == 401
            assert 'role="alert"' in answer.text
            assert "saglik_console=" not in answer.headers.get("set-cookie", "")
        locked = _attempt(http, token)  # even the right token waits out the lock
        assert locked.status_code == 429
        server.clock.advance(throttle.FIRST_LOCK + timedelta(seconds=1))
        assert _attempt(http, token).status_code == 303


def test_an_idle_session_ends_and_a_busy_one_lives(server: LiveServer) -> None:
    client = sign_in(server)
    for _ in range(3):  # 3 × 20 minutes of use: longer than the idle timeout, never idle for it
        server.clock.advance(timedelta(minutes=20))
        assert client.get("/console/tokens").status_code == 200
    server.clock.advance(timedelta(minutes=31))
    assert client.get("/console/tokens").status_code == 303


def test_no_session_outlives_its_lifetime_however_busy(server: LiveServer) -> None:
    client = sign_in(server)
    for _ in range(12 * 3):
        server.clock.advance(timedelta(minutes=20))
        if client.get("/console/tokens").status_code != 200:
            break
    else:
        pytest.fail("the session lived past its 12-hour lifetime")
    assert client.get("/console/tokens").status_code == 303


def test_signing_out_kills_the_session_in_the_store(
    server: LiveServer, console: ConsoleClient
) -> None:
    stolen = console.http.cookies.get("saglik_console")
    out = console.post("/console/sign-out")
    assert out.status_code == 303
    assert out.headers["location"] == "/console/sign-in"
    with server.client() as replay:
        replay.cookies.set("saglik_console", stolen or "", path="/console")
        assert replay.get("/console/tokens").status_code == 303
    with server.engine.connect() as conn:
        actions = conn.execute(
            select(operator_changes.c.action)
            .where(operator_changes.c.actor == f"token:{console.operator}")
            .order_by(operator_changes.c.id)
        ).scalars()
        assert list(actions) == ["sign-in", "sign-out"]


def test_a_change_without_the_csrf_token_is_refused_and_changes_nothing(
    server: LiveServer, console: ConsoleClient
) -> None:
    for answer in (
        console.http.post("/console/tokens", data={"name": "forged"}),
        console.http.post("/console/tokens", data={"name": "forged", "csrf_token": "x" * 43}),
        console.http.post(
            "/console/tokens", data={"name": "forged"}, headers={"X-CSRF-Token": "nope"}
        ),
        console.http.post("/console/sign-out"),
    ):
        assert answer.status_code == 403
    assert "forged" not in console.get("/console/tokens").text
    assert console.get("/console/tokens").status_code == 200  # the sign-out did not happen


def test_the_csrf_token_is_accepted_from_the_header_htmx_sends(console: ConsoleClient) -> None:
    answer = console.http.post(
        "/console/tokens", data={"name": "by-header"}, headers={"X-CSRF-Token": console.csrf}
    )
    assert answer.status_code == 201


def test_a_cross_site_form_is_refused_even_with_the_token(console: ConsoleClient) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = console.http.post(
            "/console/tokens",
            data={"name": "cross", "csrf_token": console.csrf},
            headers=headers,
        )
        assert answer.status_code == 403


def test_a_sign_in_without_its_form_token_is_refused(server: LiveServer) -> None:
    """Login CSRF: a forged sign-in into the attacker's own session needs the form's token."""
    _, token = new_token(server)
    with server.client() as http:
        assert http.post("/console/sign-in", data={"token": token}).status_code == 403


def test_an_oversized_form_is_refused_before_it_is_read(console: ConsoleClient) -> None:
    answer = console.post("/console/tokens", {"name": "x" * (MAX_FORM_BYTES + 1)})
    assert answer.status_code == 413


def test_the_console_speaks_turkish_by_default_and_english_on_request(
    console: ConsoleClient,
) -> None:
    assert '<html lang="tr">' in console.get("/console/tokens").text
    switched = console.get("/console/lang/en", params={"next": "/console/tokens"})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/console/tokens"
    page = console.get("/console/tokens")
    assert '<html lang="en">' in page.text
    assert "Create a token" in page.text


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/console/", "/console/\\evil", "/docs"]
)
def test_the_language_switch_never_redirects_outside_the_console(
    console: ConsoleClient, target: str
) -> None:
    answer = console.get("/console/lang/en", params={"next": target})
    assert answer.headers["location"] == "/console/"


def test_console_pages_carry_the_security_headers(console: ConsoleClient) -> None:
    answer = console.get("/console/tokens")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "form-action 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "same-origin"


def test_sessions_are_kept_as_digests_only(server: LiveServer, console: ConsoleClient) -> None:
    cookie = console.http.cookies.get("saglik_console")
    assert cookie
    with server.engine.connect() as conn:
        kept = conn.execute(select(console_sessions.c.id_hash)).scalars().all()
        assert cookie not in kept
        assert conn.execute(select(func.count()).select_from(console_sessions)).scalar_one() >= 1


def test_a_posted_identity_number_reaches_neither_the_url_nor_the_access_log(
    console: ConsoleClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The console's searches are POSTs: the access log writes the path and never a body."""
    caplog.set_level(logging.INFO)
    tckn = "10000000146"
    answer = console.post("/console/persons/find", {"env": "test", "identity_number": tckn})
    assert tckn not in str(answer.url)
    wait_for_access_log(caplog, "/console/persons/find", timeout=5)
    assert not [text for text in record_texts(caplog.records) if tckn in text]
