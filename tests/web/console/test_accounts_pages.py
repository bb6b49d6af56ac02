"""Institutions and service users in the console: created with rights and an ÖBS scope (the
password shown once), listed, edited, their password reset and their locks lifted — each read
back from the store through the service, each change logged under the console's operator, and
the result checked where it matters: on the G2G gateway, over HTTP."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from saglik.domain import throttle
from saglik.domain.methods import ALL_METHODS, HES_METHODS, OBS_METHODS
from saglik.services.accounts import AccountService
from saglik.store.accounts_repo import UserRecord
from saglik.store.schema import auth_failures
from tests.change_support import change_log
from tests.conftest import BASE_TIME, LiveServer
from tests.web.admin_support import changes_since, last_change_id
from tests.web.console.console_support import ConsoleClient, assert_accessible, screenshot
from tests.web.obs_helpers import (
    Registry,
    assert_auth_failure,
    assert_not_found,
    at_istanbul,
    fresh_day,
    obs_get,
    pairs,
    success,
)

ANKARA, CANKAYA, KECIOREN = 6, 1231, 1745
IZMIR, KONAK = 35, 1819
SECRET = re.compile(r'<code class="secret">([^<]+)</code>')


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def accounts(server: LiveServer) -> AccountService:
    return AccountService(server.engine, server.clock, change_log(server.engine, server.clock))


def stored(server: LiveServer, env: str, username: str) -> UserRecord:
    return accounts(server).user(env, username)


def new_institution(console: ConsoleClient) -> str:
    name = f"Kurum {uuid.uuid4().hex[:10]}"
    added = console.post("/console/institutions", {"name": name})
    assert added.status_code == 201, added.text
    return name


def user_form(institution: str, **fields: Any) -> dict[str, Any]:
    """A new-user form as the page posts it: every field, most of them left empty."""
    return {
        "username": unique("u"),
        "institution": institution,
        "env": "live",
        "methods": list(OBS_METHODS),
        "province_code": "",
        "district_code": "",
        "ip_allowlist": "",
        "rate_limit": "",
        **fields,
    }


def create(console: ConsoleClient, institution: str, **fields: Any) -> tuple[str, str]:
    """(username, password) of a user made through the page."""
    form = user_form(institution, **fields)
    made = console.post("/console/users", form)
    assert made.status_code == 201, made.text
    shown = SECRET.findall(made.text)
    assert len(shown) == 1
    return form["username"], html.unescape(shown[0])


def user_path(env: str, username: str) -> str:
    return f"/console/users/{env}/{username}"


def alert(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    found = re.search(r'<div class="alert" role="alert">(.*?)</div>', response.text, re.S)
    assert found, "the refusal is not shown as an alert"
    return html.unescape(found.group(1))


def notice(response: httpx.Response) -> str:
    found = re.search(r'<div class="notice" role="status">(.*?)</div>', response.text, re.S)
    assert found, "no notice on the page"
    return html.unescape(found.group(1)).strip()


def obs_day(http: httpx.Client, auth: tuple[str, str], day: str = "2026-06-14") -> httpx.Response:
    return obs_get(http, "live", "GetTumOlumlerByDate", auth, {"Tarih": day})


# --- institutions and new users ----------------------------------------------------------------


def test_an_institution_is_added_and_listed_and_a_duplicate_is_refused(
    console: ConsoleClient,
) -> None:
    name = new_institution(console)
    listed = console.get("/console/users")
    assert listed.status_code == 200
    assert f"<td>{name}</td>" in listed.text
    again = console.post("/console/institutions", {"name": name})
    assert "exists" in alert(again, 409)
    assert f'value="{name}"' in again.text  # the form keeps what was typed


def test_a_new_user_with_rights_and_a_district_scope_is_stored_and_logged(
    server: LiveServer, console: ConsoleClient
) -> None:
    institution = new_institution(console)
    mark = last_change_id(server.engine)
    username, password = create(
        console,
        institution,
        methods=["check-hes-codes", "GetTumOlumlerByDate", "GetOlumByFormNoBasic"],
        province_code=str(ANKARA),
        district_code=str(CANKAYA),
        ip_allowlist="127.0.0.1\n10.20.0.0/16, 192.168.1.0/24",
        rate_limit="100/minute",
    )
    user = stored(server, "live", username)
    assert user.institution_name == institution
    assert user.methods == {"check-hes-codes", "GetTumOlumlerByDate", "GetOlumByFormNoBasic"}
    assert (user.province_code, user.district_code) == (ANKARA, CANKAYA)
    assert user.ip_allowlist == ("127.0.0.1/32", "10.20.0.0/16", "192.168.1.0/24")
    assert user.rate_limit == "100/minute"
    assert user.active
    (change,) = changes_since(server.engine, mark)
    assert (change["entity"], change["action"], change["target"]) == (
        "service_user",
        "add",
        username,
    )
    assert change["actor"] == f"console:{console.operator}"
    assert password not in str(change)
    # the listing shows the user's settings, and never the password again
    listed = console.get("/console/users")
    for shown in (username, "Çankaya", "100/minute"):
        assert shown in listed.text
    assert password not in listed.text
    assert password not in console.get(user_path("live", username)).text


def test_all_methods_grants_every_method(server: LiveServer, console: ConsoleClient) -> None:
    username, _ = create(console, new_institution(console), methods=[], all_methods="on")
    assert stored(server, "live", username).methods == frozenset(ALL_METHODS)


def test_the_new_password_opens_the_gateway_within_the_users_scope(
    server: LiveServer, console: ConsoleClient, http: httpx.Client
) -> None:
    username, password = create(console, new_institution(console))
    assert isinstance(success(obs_day(http, (username, password))), list)


def test_the_list_is_filtered_by_environment(console: ConsoleClient) -> None:
    institution = new_institution(console)
    live, _ = create(console, institution, env="live")
    sandbox, _ = create(console, institution, env="test")
    only_test = console.get("/console/users", params={"env": "test"})
    assert only_test.status_code == 200
    assert sandbox in only_test.text
    assert live not in only_test.text
    both = console.get("/console/users").text
    assert sandbox in both
    assert live in both
    assert "Ortam live ya da test olmalı" in alert(console.get("/console/users?env=prod"), 422)


# --- refusals ----------------------------------------------------------------------------------


def test_a_duplicate_username_is_refused_and_the_form_keeps_what_was_typed(
    console: ConsoleClient,
) -> None:
    institution = new_institution(console)
    username, _ = create(console, institution)
    again = console.post(
        "/console/users",
        user_form(
            institution,
            username=username,
            methods=["check-hes-code", "GetOlumByFormNoFull"],
            province_code=str(ANKARA),
            district_code=str(KECIOREN),
            ip_allowlist="10.1.0.0/16",
            rate_limit="7/second",
        ),
    )
    assert "exists in the live environment" in alert(again, 409)
    page = again.text
    assert f'name="username" type="text" value="{username}"' in page
    assert re.search(rf'<option value="{institution}" selected>', page)
    assert re.search(r'value="check-hes-code" checked', page)
    assert re.search(r'value="GetOlumByFormNoFull" checked', page)
    assert not re.search(r'value="GetTumOlumlerByDate" checked', page)
    assert re.search(rf'<option value="{ANKARA}" selected>', page)
    assert re.search(rf'<option value="{KECIOREN}" selected>', page)  # Ankara's districts listed
    assert ">10.1.0.0/16</textarea>" in page
    assert 'value="7/second"' in page
    assert not SECRET.search(page)


def test_a_bad_network_or_rate_limit_is_refused_with_422(
    server: LiveServer, console: ConsoleClient
) -> None:
    institution = new_institution(console)
    bad_cidr = user_form(institution, ip_allowlist="10.0.0.0/33")
    assert "not an IP network" in alert(console.post("/console/users", bad_cidr), 422)
    bad_limit = user_form(institution, rate_limit="fast")
    assert "not a rate limit" in alert(console.post("/console/users", bad_limit), 422)
    bad_scope = user_form(institution, province_code=str(IZMIR), district_code=str(CANKAYA))
    assert "is not in province" in alert(console.post("/console/users", bad_scope), 422)
    for form in (bad_cidr, bad_limit, bad_scope):
        assert form["username"] not in [u.username for u in accounts(server).list_users("live")]


def test_an_unknown_institution_or_user_is_refused_with_404(console: ConsoleClient) -> None:
    no_institution = user_form(f"Yok {uuid.uuid4().hex}")
    assert "no institution named" in alert(console.post("/console/users", no_institution), 404)
    nobody = user_path("live", unique("nobody"))
    assert "no user" in alert(console.get(nobody), 404)
    assert "no user" in alert(console.post(f"{nobody}/password"), 404)
    assert "no user" in alert(console.post(nobody, {"methods": []}), 404)
    assert "Ortam live ya da test olmalı" in alert(console.get("/console/users/prod/x"), 422)


# --- editing -----------------------------------------------------------------------------------


def test_an_edit_deactivates_changes_rights_and_clears_the_allow_list(
    server: LiveServer, console: ConsoleClient, http: httpx.Client
) -> None:
    username, password = create(
        console,
        new_institution(console),
        methods=list(HES_METHODS),
        province_code=str(ANKARA),
        ip_allowlist="127.0.0.0/8",
        rate_limit="50/minute",
    )
    page = console.get(user_path("live", username))
    assert page.status_code == 200
    assert ">127.0.0.0/8</textarea>" in page.text
    mark = last_change_id(server.engine)
    saved = console.post(
        user_path("live", username),
        {
            "methods": ["GetTumOlumlerByDate"],
            "province_code": str(IZMIR),
            "district_code": str(KONAK),
            "ip_allowlist": "",
            "rate_limit": "50/minute",
            # "active" unchecked: the browser sends nothing for it
        },
    )
    assert saved.status_code == 200, saved.text
    assert 'role="status"' in saved.text
    user = stored(server, "live", username)
    assert user.methods == {"GetTumOlumlerByDate"}
    assert (user.province_code, user.district_code) == (IZMIR, KONAK)
    assert user.ip_allowlist == ()
    assert user.rate_limit == "50/minute"
    assert not user.active
    (change,) = changes_since(server.engine, mark)
    assert change["actor"] == f"console:{console.operator}"
    assert (change["entity"], change["action"], change["target"]) == (
        "service_user",
        "update",
        username,
    )
    assert set(change["after"]) == {
        "methods",
        "province_code",
        "district_code",
        "ip_allowlist",
        "active",
    }
    assert change["after"]["active"] is False
    assert change["before"]["ip_allowlist"] == ["127.0.0.0/8"]
    assert_auth_failure(obs_day(http, (username, password)))  # an inactive user is refused
    reactivated = console.post(
        user_path("live", username),
        {"methods": ["GetTumOlumlerByDate"], "active": "on", "rate_limit": "", "ip_allowlist": ""},
    )
    assert reactivated.status_code == 200
    user = stored(server, "live", username)
    assert user.active
    assert user.rate_limit is None
    assert user.province_code is None
    assert isinstance(success(obs_day(http, (username, password))), list)


def test_a_refused_edit_changes_nothing_and_keeps_what_was_typed(
    server: LiveServer, console: ConsoleClient
) -> None:
    username, _ = create(console, new_institution(console), ip_allowlist="10.0.0.0/8")
    before = stored(server, "live", username)
    refused = console.post(
        user_path("live", username),
        {
            "methods": ["check-hes-code"],
            "ip_allowlist": "10.0.0.0/8\nnot-a-network",
            "active": "on",
        },
    )
    assert "not an IP network" in alert(refused, 422)
    assert ">10.0.0.0/8\nnot-a-network</textarea>" in refused.text
    assert re.search(r'value="check-hes-code" checked', refused.text)
    assert stored(server, "live", username) == before


# --- passwords and locks -----------------------------------------------------------------------


def test_a_reset_password_is_shown_once_and_replaces_the_old_one_on_the_gateway(
    server: LiveServer, console: ConsoleClient, http: httpx.Client
) -> None:
    username, old = create(console, new_institution(console))
    assert isinstance(success(obs_day(http, (username, old))), list)
    mark = last_change_id(server.engine)
    reset = console.post(f"{user_path('live', username)}/password")
    assert reset.status_code == 200, reset.text
    (new,) = SECRET.findall(reset.text)
    new = html.unescape(new)
    assert new != old
    assert new not in console.get(user_path("live", username)).text
    assert isinstance(success(obs_day(http, (username, new))), list)
    assert_auth_failure(obs_day(http, (username, old)))
    (change,) = changes_since(server.engine, mark)
    assert (change["action"], change["actor"]) == ("reset-password", f"console:{console.operator}")
    assert new not in str(change)


def failure_keys(server: LiveServer) -> set[str]:
    with server.engine.connect() as conn:
        return set(conn.execute(select(auth_failures.c.key)).scalars())


def test_unlocking_a_user_and_its_address_lifts_a_lock_set_by_wrong_passwords(
    server: LiveServer, console: ConsoleClient, http: httpx.Client
) -> None:
    username, password = create(console, new_institution(console))
    for n in range(throttle.FREE_FAILURES + 1):
        assert_auth_failure(obs_day(http, (username, f"wrong-{n}")))
    assert_auth_failure(obs_day(http, (username, password)))  # locked: even the right one fails
    user_key, address_key = throttle.user_key("live", username), throttle.address_key("127.0.0.1")
    assert {user_key, address_key} <= failure_keys(server)
    mark = last_change_id(server.engine)

    unlocked = console.post(f"{user_path('live', username)}/unlock")
    assert unlocked.status_code == 200
    assert notice(unlocked).endswith(": 1.")  # the username's count
    assert user_key not in failure_keys(server)
    assert_auth_failure(obs_day(http, (username, password)))  # the address is still locked

    by_address = console.post("/console/users/unlock", {"addresses": "127.0.0.1", "env": "live"})
    assert by_address.status_code == 200
    assert address_key not in failure_keys(server)
    assert isinstance(success(obs_day(http, (username, password))), list)

    rows = changes_since(server.engine, mark)
    assert [(r["entity"], r["action"], r["target"]) for r in rows] == [
        ("auth_failures", "unlock", user_key),
        ("auth_failures", "unlock", address_key),
    ]
    assert {r["actor"] for r in rows} == {f"console:{console.operator}"}


def test_unlocking_nothing_is_refused(console: ConsoleClient) -> None:
    refused = console.post(
        "/console/users/unlock", {"username": "", "addresses": "", "env": "live"}
    )
    assert "nothing to unlock" in alert(refused, 422)


# --- in a browser ------------------------------------------------------------------------------


def label(turkish: str, english: str) -> re.Pattern[str]:
    return re.compile(f"^({turkish}|{english})$")


def fill_new_user(page: Any, institution: str, username: str, methods: tuple[str, ...]) -> None:
    form = page.locator("form[method='post'][action='/console/users']")
    form.get_by_label(label("Kullanıcı adı", "Username")).fill(username)
    form.get_by_label(label("Kurum", "Institution")).select_option(institution)
    form.get_by_label(label("Ortam", "Environment")).select_option("live")
    for method in methods:
        form.get_by_label(method, exact=True).check()


def add_institution(page: Any, name: str) -> None:
    page.get_by_label(label("Kurum adı", "Institution name")).fill(name)
    page.get_by_role("button", name=label("Kurumu ekle", "Add institution")).click()
    page.wait_for_load_state()


def choose_scope(page: Any, province: int, district: int, *, pick: bool = True) -> None:
    """Picks the province, waits for its districts (htmx brings the list), and picks one."""
    page.get_by_label(label("İl", "Province")).select_option(str(province))
    districts = page.get_by_label(label("İlçe", "District"))
    districts.locator(f"option[value='{district}']").wait_for(state="attached")
    if pick:
        districts.select_option(str(district))


def test_creating_a_district_scoped_user_in_a_browser(page: Any, server: LiveServer) -> None:
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    page.goto(f"{server.base_url}/console/users")
    institution = f"Kurum {uuid.uuid4().hex[:8]}"
    add_institution(page, institution)
    assert page.get_by_role("status").inner_text()
    assert_accessible(page)
    screenshot(page, server, "users")

    username = unique("browser")
    fill_new_user(page, institution, username, ("check-hes-codes", "GetTumOlumlerByDate"))
    choose_scope(page, ANKARA, CANKAYA)
    page.get_by_label(label("Hız sınırı", "Rate limit")).fill("100/minute")
    page.get_by_role("button", name=label("Kullanıcı oluştur", "Create user")).click()
    page.wait_for_load_state()
    password = page.locator("code.secret").inner_text()
    assert len(password) >= 20
    assert_accessible(page)
    screenshot(page, server, "users-created")
    user = stored(server, "live", username)
    assert user.methods == {"check-hes-codes", "GetTumOlumlerByDate"}
    assert (user.province_code, user.district_code) == (ANKARA, CANKAYA)

    page.get_by_role("link", name=re.compile(username)).first.click()
    page.wait_for_url(re.compile(f"/console/users/live/{username}$"))
    assert password not in page.content()
    assert page.get_by_label(label("İlçe", "District")).input_value() == str(CANKAYA)
    assert_accessible(page)
    screenshot(page, server, "user")

    page.get_by_role("button", name=re.compile(username)).filter(
        has_text=re.compile("Parola|password", re.I)
    ).click()
    page.wait_for_load_state()
    new_password = page.locator("code.secret").inner_text()
    assert new_password
    assert new_password != password
    assert_accessible(page)
    screenshot(page, server, "user-password-reset")
    assert password not in " ".join(visited)
    assert new_password not in " ".join(visited)


def test_a_province_scope_made_in_the_browser_holds_on_the_gateway(
    page: Any, server: LiveServer, http: httpx.Client
) -> None:
    """End to end: the operator scopes a user to Ankara in the console; over HTTP, the user then
    sees the death registered in Ankara and not the one in İzmir, by date and by form number."""
    page.goto(f"{server.base_url}/console/users")
    institution = f"Kurum {uuid.uuid4().hex[:8]}"
    add_institution(page, institution)
    username = unique("ankara")
    fill_new_user(page, institution, username, OBS_METHODS)
    choose_scope(page, ANKARA, KECIOREN, pick=False)
    page.get_by_role("button", name=label("Kullanıcı oluştur", "Create user")).click()
    page.wait_for_load_state()
    auth = (username, page.locator("code.secret").inner_text())
    user = stored(server, "live", username)
    assert (user.province_code, user.district_code) == (ANKARA, None)

    registry = Registry(server)
    day = fresh_day()
    in_ankara = registry.register(
        at=at_istanbul(day, 10, 1),
        death_province=ANKARA,
        death_district=KECIOREN,
        residence_province=ANKARA,
        residence_district=KECIOREN,
    )
    in_izmir = registry.register(
        at=at_istanbul(day, 10, 2),
        death_province=IZMIR,
        death_district=KONAK,
        residence_province=IZMIR,
        residence_district=KONAK,
    )
    server.clock.set(BASE_TIME)

    listed = pairs(success(obs_day(http, auth, day.isoformat())))
    assert listed == [in_ankara.pair]
    found = success(obs_get(http, "live", "GetOlumByFormNoBasic", auth, in_ankara.form_params()))
    assert found["FormNo"] == in_ankara.form_no
    assert_not_found(obs_get(http, "live", "GetOlumByFormNoBasic", auth, in_izmir.form_params()))
    # an unscoped user of the same store sees both: the difference is the scope, not the data
    other = unique("all")
    issued = accounts(server).add_user(
        username=other, institution=institution, env="live", methods=OBS_METHODS
    )
    both = pairs(success(obs_day(http, (other, issued.password), day.isoformat())))
    assert both == [in_ankara.pair, in_izmir.pair]


def test_the_pages_switch_to_english(console: ConsoleClient) -> None:
    turkish = console.get("/console/users").text
    assert "Yeni kullanıcı" in turkish
    assert console.get("/console/lang/en?next=/console/users").status_code == 303
    english = console.get("/console/users").text
    assert "New user" in english
    assert "Yeni kullanıcı" not in english
