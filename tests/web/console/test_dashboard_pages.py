"""The dashboards page: every figure drawn and tabulated, the calls just made on it (over HTTP,
in chromium), and a death form just registered in the registry's figures."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from saglik.services.dashboards import icd_chapters
from saglik.services.obs import DeathFormInput, ObsRegistryService
from saglik.store.schema import audit_events, death_forms
from saglik.web.console.dashboard_pages import CHAPTER_TITLES
from tests.change_support import change_log
from tests.conftest import Credential, Holder, LiveServer
from tests.services.obs_support import valid_form
from tests.web.conftest import path
from tests.web.console.console_support import (
    ConsoleClient,
    assert_accessible,
    browser_sign_in,
    screenshot,
    sign_in,
)

PANELS = (
    "calls",
    "outcomes",
    "latency",
    "refusals",
    "refusal-outcomes",
    "registrations",
    "death-provinces",
    "residence-provinces",
    "causes",
    "forensic",
)


def _calls_made(server: LiveServer, since: datetime, count: int) -> list[str]:
    """The outcomes of the audit rows written since ``since``, once there are ``count`` (the
    group committer writes them just after the answers)."""
    deadline = time.monotonic() + 10
    while True:
        with server.engine.connect() as conn:
            outcomes = list(
                conn.execute(
                    select(audit_events.c.outcome).where(audit_events.c.occurred_at >= since)
                ).scalars()
            )
        if len(outcomes) >= count or time.monotonic() > deadline:
            return outcomes
        time.sleep(0.05)


def _fresh_hour(server: LiveServer) -> datetime:
    """Moves the server's clock past every call and form the store holds: the hour before the
    new time is this test's alone."""
    with server.engine.connect() as conn:
        latest = conn.execute(select(func.max(audit_events.c.occurred_at))).scalar()
        registered = conn.execute(select(func.max(death_forms.c.registered_at))).scalar()
    later = max(m for m in (latest, registered, server.clock.now()) if m is not None)
    server.clock.set(later + timedelta(days=1))
    return server.clock.now()


def _hes_calls(
    server: LiveServer,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
    count: int,
) -> list[str]:
    """``count`` HES calls in a fresh hour of the server's clock, and their audit outcomes."""
    since = _fresh_hour(server)
    user, holder = make_user(env="live"), make_holder(env="live")
    with server.client() as http:
        for _ in range(count):
            answer = http.post(
                path("live", "check-hes-code"), json={"hes_code": holder.code}, auth=user.auth
            )
            assert answer.status_code == 200
    outcomes = _calls_made(server, since, count)
    assert len(outcomes) == count
    return outcomes


def test_every_figure_is_drawn_with_its_table_view(console: ConsoleClient) -> None:
    page = console.get("/console/dashboards", params={"range": "7d", "env": "live"})
    assert page.status_code == 200
    for ident in PANELS:
        assert f'id="panel-{ident}"' in page.text, ident
    assert page.text.count('role="img"') == len(PANELS)
    assert page.text.count("<details>") == len(PANELS)
    assert 'value="7d" selected' in page.text
    assert 'value="live" selected' in page.text


def test_an_unknown_range_or_environment_shows_the_defaults(console: ConsoleClient) -> None:
    page = console.get("/console/dashboards", params={"range": "1y", "env": "prod'"})
    assert page.status_code == 200
    assert 'value="24h" selected' in page.text
    assert 'value="test" selected' in page.text


def test_the_calls_just_made_are_counted_on_the_dashboard(
    server: LiveServer,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    outcomes = _hes_calls(server, make_user, make_holder, 3)
    console = sign_in(server)  # the clock moved past the fixture's session
    page = console.get("/console/dashboards", params={"range": "1h"})
    outcome_table = page.text.split('id="panel-outcomes"')[1].split("</figure>")[0]
    assert re.search(
        rf"<th scope=\"row\">{outcomes[0]}</th><td class=\"num\">3</td>", outcome_table
    )
    calls_table = page.text.split('id="panel-calls"')[1].split("</figure>")[0]
    assert "hes · check-hes-code" in calls_table


def test_a_registered_death_form_is_in_the_registry_figures(server: LiveServer) -> None:
    _fresh_hour(server)
    console = sign_in(server)
    registry = ObsRegistryService(
        server.engine, server.clock, change_log(server.engine, server.clock)
    )
    died = server.clock.now() - timedelta(hours=2)
    form = valid_form(
        died_at=died.isoformat(),
        death_province=6,
        death_district=None,
        residence_province=34,
        residence_district=None,
    )
    registry.register("live", DeathFormInput.model_validate(form))
    page = console.get("/console/dashboards", params={"range": "1h", "env": "live"})
    death = page.text.split('id="panel-death-provinces"')[1].split("</figure>")[0]
    assert re.search(r'<th scope="row">[^<]*Ankara</th><td class="num">1</td>', death)
    residence = page.text.split('id="panel-residence-provinces"')[1].split("</figure>")[0]
    assert re.search(r'<th scope="row">[^<]*İstanbul</th><td class="num">1</td>', residence)


def test_a_dashboard_chart_shows_the_calls_just_made_in_the_browser(
    page: Any,
    server: LiveServer,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    _hes_calls(server, make_user, make_holder, 4)
    browser_sign_in(page, server)  # the clock moved past the fixture's session
    page.goto(f"{server.base_url}/console/dashboards?range=1h")
    chart = page.locator("#panel-calls svg")
    assert chart.get_attribute("role") == "img"
    bars = chart.locator("rect title")
    assert any("check-hes-code" in text for text in bars.all_text_contents())
    page.locator("#panel-outcomes summary").click()
    assert page.locator("#panel-outcomes table tbody td").first.inner_text() == "4"
    assert_accessible(page)
    screenshot(page, server, "dashboards")
    page.get_by_label(re.compile("^(Zaman aralığı|Time range)$")).select_option("7d")
    page.get_by_role("button", name=re.compile("^(Göster|Show)$")).click()
    page.wait_for_url(re.compile(r"range=7d"))
    assert page.locator("#panel-calls svg").count() == 1


CAUSES = ("I21.9", "C34.9", "J18.9", "E11.9", "V89.2", "X70", "I64", "C50.9")


def test_a_busy_hour_on_the_dashboards_in_the_browser(
    page: Any,
    server: LiveServer,
    make_user: Callable[..., Credential],
    make_holder: Callable[..., Holder],
) -> None:
    """Traffic of every kind and forms from several provinces: each chart has something to draw
    (the screenshot the README shows is this page)."""
    since = _fresh_hour(server)
    user, holder = make_user(env="live"), make_holder(env="live")
    registry = ObsRegistryService(
        server.engine, server.clock, change_log(server.engine, server.clock)
    )
    plates = (6, 34, 34, 35, 1, 16, 34, 7, 6, 61, 42, 34)
    for n, plate in enumerate(plates):
        form = valid_form(
            identity_number=None,
            passport_no=f"P{n:07d}",
            nationality="DE",
            died_at=(server.clock.now() - timedelta(minutes=5 * n + 1)).isoformat(),
            death_province=plate,
            death_district=None,
            residence_province=plates[-1 - n],
            residence_district=None,
            manner=(3 if n % 4 == 0 else 1),
            causes=[{"kind": 1, "icd_code": CAUSES[n % len(CAUSES)]}],
        )
        registry.register("live", DeathFormInput.model_validate(form))
    made = 0
    with server.client() as http:
        for minute in range(0, 50, 5):
            server.clock.set(since + timedelta(minutes=minute) - timedelta(hours=1))
            for method in ("check-hes-code", "check-employee-hes-code"):
                http.post(path("live", method), json={"hes_code": holder.code}, auth=user.auth)
                made += 1
            http.post(
                path("live", "check-hes-code"),
                json={"hes_code": holder.code},
                auth=(user.username, "wrong"),
            )
            made += 1
    server.clock.set(since)
    assert len(_calls_made(server, since - timedelta(hours=1), made)) >= made
    browser_sign_in(page, server)
    page.goto(f"{server.base_url}/console/dashboards?range=1h&env=live")
    for ident in PANELS:
        assert "no-data" not in (page.locator(f"#panel-{ident} svg").inner_html()), ident
    assert_accessible(page)
    screenshot(page, server, "dashboards-busy")


def test_the_chapter_titles_translated_are_the_who_titles_the_figures_use() -> None:
    assert icd_chapters() == CHAPTER_TITLES
