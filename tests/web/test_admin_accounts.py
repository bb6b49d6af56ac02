"""Institutions and service users through the operator API: each answer as documented, every
change in the change log under the token's name (never a password or its hash), and every
change to a user in force on the G2G gateway from the next call."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService
from tests.conftest import LiveServer
from tests.web.admin_support import (
    Admin,
    Token,
    changes_since,
    field_errors,
    last_change_id,
    ok,
    one_change,
    problem,
    unique,
)

HES_CHECK = "/services/g2g/test/saglik/hes/check-employee-hes-code"
OBS_CHECK = "/services/g2g/test/saglik/OBS/GetOlumTarihiByTcKimlikNo"


def g2g_status(server: LiveServer, username: str, password: str, path: str = HES_CHECK) -> int:
    """The HTTP status of one G2G call as this user: 401 not let in, 403 refused, 200/400 let in."""
    with server.client() as client:
        if "/hes/" in path:
            response = client.post(path, json={"hes_code": "A1S10001S1"}, auth=(username, password))
        else:
            response = client.get(
                path, params={"TcKimlikNo": "76883560160"}, auth=(username, password)
            )
    return response.status_code


@pytest.fixture
def institution(admin: Admin) -> str:
    name = unique("Kurum")
    ok(admin.post("/institutions", {"name": name}), 201)
    return name


def add_user(admin: Admin, institution: str, **fields: Any) -> dict[str, Any]:
    body = {"username": unique("u"), "institution": institution, "env": "test", **fields}
    if "methods" not in body and "all_methods" not in body:
        body["all_methods"] = True
    created: dict[str, Any] = ok(admin.post("/users", body), 201)
    return created


def user_path(user: dict[str, Any]) -> dict[str, str]:
    return {"env": user["env"], "username": user["username"]}


# --- institutions -------------------------------------------------------------------------------


def test_add_an_institution_and_list_it(
    server: LiveServer, admin: Admin, operator_token: Token
) -> None:
    mark = last_change_id(server.engine)
    name = unique("Ankara  Büyükşehir")
    created = ok(admin.post("/institutions", {"name": f"  {name} "}), 201)
    collapsed = " ".join(name.split())
    assert created == {"name": collapsed, "created_at": "2026-06-15T09:00:00+00:00", "users": 0}
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"], change["target"]) == (
        "institution",
        "add",
        collapsed,
    )
    listed = ok(admin.get("/institutions"))["institutions"]
    assert created in listed


def test_adding_answers_from_what_was_added_without_reading_everything_again(
    admin: Admin, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_rereading(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("read again after adding")

    monkeypatch.setattr(AccountService, "list_institutions", no_rereading)
    monkeypatch.setattr(AccountService, "user", no_rereading)
    name = unique("Kurum")
    created = ok(admin.post("/institutions", {"name": name}), 201)
    assert created == {"name": name, "created_at": "2026-06-15T09:00:00+00:00", "users": 0}
    body = {"username": unique("u"), "institution": name, "env": "live", "methods": []}
    user = ok(admin.post("/users", body), 201)
    assert (user["username"], user["institution"], user["env"], user["methods"]) == (
        body["username"],
        name,
        "live",
        [],
    )
    monkeypatch.undo()
    user.pop("password")
    assert ok(admin.get("/users/{env}/{username}", path=user_path(user))) == user


def test_the_user_count_of_an_institution(admin: Admin, institution: str) -> None:
    add_user(admin, institution)
    listed = ok(admin.get("/institutions"))["institutions"]
    assert {"name": institution, "users": 1} == {
        k: v for i in listed if i["name"] == institution for k, v in i.items() if k != "created_at"
    }


def test_a_duplicate_institution_is_a_conflict(
    server: LiveServer, admin: Admin, institution: str
) -> None:
    mark = last_change_id(server.engine)
    problem(admin.post("/institutions", {"name": institution}), 409)
    assert changes_since(server.engine, mark) == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, {"name"}),
        ({"name": ""}, {"name"}),
        ({"name": 5}, {"name"}),
        ({"name": "x" * 201}, {"name"}),
        ({"name": "a\x00b"}, {"name"}),
        ({"name": "Kurum", "city": "Ankara"}, {"city"}),
        ([], {"body"}),
    ],
)
def test_an_invalid_institution_is_refused_field_by_field(
    admin: Admin, body: Any, fields: set[str]
) -> None:
    assert field_errors(admin.post("/institutions", body)) == fields


def test_a_blank_institution_name_is_refused_by_the_service(admin: Admin) -> None:
    body = problem(admin.post("/institutions", {"name": "   "}), 422)
    assert "blank" in body["detail"]


# --- bodies the API cannot read -----------------------------------------------------------------


def test_unparseable_json_is_a_400(admin: Admin) -> None:
    response = admin.call(
        "POST", "/institutions", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    problem(response, 400)


def test_a_body_that_is_not_json_is_a_415(admin: Admin) -> None:
    response = admin.call(
        "POST", "/institutions", content=b"name=Kurum", headers={"Content-Type": "text/plain"}
    )
    problem(response, 415)
    problem(admin.call("POST", "/institutions", content=b'{"name": "Kurum"}'), 415)


def test_json_with_a_charset_is_json(admin: Admin) -> None:
    response = admin.call(
        "POST",
        "/institutions",
        content=json.dumps({"name": unique("Kurum")}).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    ok(response, 201)


def test_a_body_over_a_mebibyte_is_a_413(admin: Admin) -> None:
    problem(admin.post("/institutions", {"name": "x" * (1 << 20)}), 413)


# --- users --------------------------------------------------------------------------------------


def test_add_a_user_whose_password_works_on_the_gateway_at_once(
    server: LiveServer, admin: Admin, operator_token: Token, institution: str
) -> None:
    mark = last_change_id(server.engine)
    created = add_user(
        admin,
        institution,
        methods=["check-employee-hes-code", "GetOlumTarihiByTcKimlikNo"],
        province_code=61,
        district_code=2097,
        ip_allowlist=["127.0.0.1", "10.0.0.0/8"],
        rate_limit="50/second",
    )
    password = created.pop("password")
    assert len(password) >= 20
    assert created == {
        "username": created["username"],
        "env": "test",
        "institution": institution,
        "methods": ["GetOlumTarihiByTcKimlikNo", "check-employee-hes-code"],
        "province_code": 61,
        "district_code": 2097,
        "ip_allowlist": ["127.0.0.1/32", "10.0.0.0/8"],
        "rate_limit": "50/second",
        "active": True,
    }
    assert g2g_status(server, created["username"], password) in (200, 400)
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"], change["env"], change["target"]) == (
        "service_user",
        "add",
        "test",
        created["username"],
    )
    assert change["after"]["methods"] == created["methods"]
    assert password not in json.dumps(change, default=str)
    assert "argon2" not in json.dumps(change, default=str)


def test_all_methods(admin: Admin, institution: str) -> None:
    created = add_user(admin, institution, all_methods=True)
    assert created["methods"] == sorted(ALL_METHODS)


def test_read_and_list_users_without_hashes(admin: Admin, institution: str) -> None:
    created = add_user(admin, institution, env="live", methods=[])
    created.pop("password")
    assert ok(admin.get("/users/{env}/{username}", path=user_path(created))) == created
    everyone = ok(admin.get("/users"))["users"]
    assert created in everyone
    live_only = ok(admin.get("/users", params={"env": "live"}))["users"]
    assert created in live_only
    assert {u["env"] for u in live_only} == {"live"}
    assert created not in ok(admin.get("/users", params={"env": "test"}))["users"]
    text = json.dumps(everyone)
    assert "argon2" not in text
    assert "password" not in text


def test_an_unknown_institution_is_not_found(admin: Admin) -> None:
    body = {"username": unique("u"), "institution": unique("Yok"), "env": "test", "methods": []}
    problem(admin.post("/users", body), 404)


def test_a_duplicate_user_is_a_conflict(admin: Admin, institution: str) -> None:
    created = add_user(admin, institution)
    body = {"username": created["username"], "institution": institution, "env": "test"}
    problem(admin.post("/users", {**body, "all_methods": True}), 409)
    # the same name in the other environment is another user
    ok(admin.post("/users", {**body, "env": "live", "all_methods": True}), 201)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"env": "prod", "all_methods": True}, {"env"}),
        ({"methods": ["check-hes-codes"], "all_methods": True}, {"body"}),
        ({}, {"body"}),
        ({"all_methods": "yes"}, {"all_methods"}),
        ({"methods": "check-hes-codes"}, {"methods"}),
        ({"all_methods": True, "province_code": 82}, {"province_code"}),
        ({"all_methods": True, "province_code": "6"}, {"province_code"}),
        ({"all_methods": True, "username": "a/b"}, {"username"}),
        ({"all_methods": True, "username": "with space"}, {"username"}),
        ({"all_methods": True, "username": "a:b"}, {"username"}),
        ({"all_methods": True, "username": "x" * 101}, {"username"}),
        ({"all_methods": True, "username": ""}, {"username"}),
        ({"all_methods": True, "password": "chosen-password-123"}, {"password"}),
    ],
)
def test_an_invalid_user_is_refused_field_by_field(
    admin: Admin, institution: str, fields: dict[str, Any], bad: set[str]
) -> None:
    body = {"username": unique("u"), "institution": institution, "env": "test", **fields}
    assert field_errors(admin.post("/users", body)) == bad


@pytest.mark.parametrize(
    ("fields", "hint"),
    [
        ({"methods": ["check-everything"]}, "unknown method"),
        ({"all_methods": True, "ip_allowlist": ["300.1.1.1"]}, "not an IP network"),
        ({"all_methods": True, "rate_limit": "fast"}, "not a rate limit"),
        ({"all_methods": True, "district_code": 2097}, "needs its province"),
        ({"all_methods": True, "province_code": 6, "district_code": 2097}, "not in province"),
        ({"all_methods": True, "username": "with space"}, "username"),
    ],
)
def test_a_user_the_service_refuses_is_422_with_its_reason(
    server: LiveServer, admin: Admin, institution: str, fields: dict[str, Any], hint: str
) -> None:
    mark = last_change_id(server.engine)
    body = {"username": unique("u"), "institution": institution, "env": "test", **fields}
    assert hint in problem(admin.post("/users", body), 422)["detail"]
    assert changes_since(server.engine, mark) == []


@pytest.mark.parametrize(
    "path",
    [
        {"env": "test", "username": "nobody-at-all"},
        {"env": "prod", "username": "nobody-at-all"},
        {"env": "test", "username": "a%00b"},
        {"env": "test", "username": "a:b"},
    ],
)
def test_an_unknown_user_is_not_found(admin: Admin, path: dict[str, str]) -> None:
    problem(admin.get("/users/{env}/{username}", path=path), 404)
    problem(admin.patch("/users/{env}/{username}", {"active": False}, path=path), 404)
    problem(admin.post("/users/{env}/{username}/password", path=path), 404)


# --- changing a user ----------------------------------------------------------------------------


def test_removing_a_method_refuses_the_users_next_call(
    server: LiveServer, admin: Admin, operator_token: Token, institution: str
) -> None:
    created = add_user(admin, institution, methods=["check-employee-hes-code"])
    username, password = created["username"], created["password"]
    assert g2g_status(server, username, password) in (200, 400)
    mark = last_change_id(server.engine)
    updated = ok(
        admin.patch(
            "/users/{env}/{username}",
            {"methods": ["GetOlumTarihiByTcKimlikNo"]},
            path=user_path(created),
        )
    )
    assert updated["methods"] == ["GetOlumTarihiByTcKimlikNo"]
    assert g2g_status(server, username, password) == 403
    assert g2g_status(server, username, password, OBS_CHECK) == 200
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"], change["target"]) == (
        "service_user",
        "update",
        username,
    )
    assert change["before"] == {"methods": ["check-employee-hes-code"]}
    assert change["after"] == {"methods": ["GetOlumTarihiByTcKimlikNo"]}


def test_disabling_a_user_refuses_its_next_call(
    admin: Admin, server: LiveServer, institution: str
) -> None:
    created = add_user(admin, institution)
    ok(admin.patch("/users/{env}/{username}", {"active": False}, path=user_path(created)))
    assert g2g_status(server, created["username"], created["password"]) == 403
    ok(admin.patch("/users/{env}/{username}", {"active": True}, path=user_path(created)))
    assert g2g_status(server, created["username"], created["password"]) in (200, 400)


def test_absent_keeps_and_null_clears(
    server: LiveServer, admin: Admin, operator_token: Token, institution: str
) -> None:
    created = add_user(
        admin,
        institution,
        methods=["check-hes-codes"],
        province_code=61,
        ip_allowlist=["192.0.2.0/24"],
        rate_limit="5/second",
    )
    at = user_path(created)
    mark = last_change_id(server.engine)
    unchanged = ok(admin.patch("/users/{env}/{username}", {}, path=at))
    assert unchanged == {k: v for k, v in created.items() if k != "password"}
    assert changes_since(server.engine, mark) == []

    cleared = ok(
        admin.patch(
            "/users/{env}/{username}",
            {"rate_limit": None, "ip_allowlist": None, "province_code": None},
            path=at,
        )
    )
    assert (cleared["rate_limit"], cleared["ip_allowlist"], cleared["province_code"]) == (
        None,
        [],
        None,
    )
    assert cleared["methods"] == ["check-hes-codes"], "absent: kept"
    change = one_change(server.engine, mark, operator_token)
    assert change["before"] == {
        "rate_limit": "5/second",
        "ip_allowlist": ["192.0.2.0/24"],
        "province_code": 61,
    }
    assert change["after"] == {"rate_limit": None, "ip_allowlist": [], "province_code": None}

    no_rights = ok(admin.patch("/users/{env}/{username}", {"methods": None}, path=at))
    assert no_rights["methods"] == []


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"active": None}, {"active"}),
        ({"active": "false"}, {"active"}),
        ({"methods": "check-hes-codes"}, {"methods"}),
        ({"district_code": 0}, {"district_code"}),
        ({"username": "renamed"}, {"username"}),
    ],
)
def test_an_invalid_patch_is_refused_field_by_field(
    admin: Admin, institution: str, body: dict[str, Any], bad: set[str]
) -> None:
    created = add_user(admin, institution)
    assert (
        field_errors(admin.patch("/users/{env}/{username}", body, path=user_path(created))) == bad
    )


def test_a_patch_the_service_refuses_is_422(admin: Admin, institution: str) -> None:
    created = add_user(admin, institution)
    response = admin.patch(
        "/users/{env}/{username}", {"methods": ["check-nothing"]}, path=user_path(created)
    )
    assert "unknown method" in problem(response, 422)["detail"]


def test_a_password_reset_replaces_the_old_one_at_once(
    server: LiveServer, admin: Admin, operator_token: Token, institution: str
) -> None:
    created = add_user(admin, institution)
    old = created["password"]
    mark = last_change_id(server.engine)
    issued = ok(admin.post("/users/{env}/{username}/password", path=user_path(created)))
    assert set(issued) == {"username", "env", "password"}
    assert issued["password"] != old
    assert g2g_status(server, created["username"], old) == 401
    assert g2g_status(server, created["username"], issued["password"]) in (200, 400)
    change = one_change(server.engine, mark, operator_token)
    assert (change["entity"], change["action"]) == ("service_user", "reset-password")
    assert issued["password"] not in json.dumps(change, default=str)
    assert (change["before"], change["after"]) == (None, None)


def test_a_password_reset_ignores_a_body(admin: Admin, institution: str) -> None:
    created = add_user(admin, institution)
    response: httpx.Response = admin.post(
        "/users/{env}/{username}/password", {"password": "mine"}, path=user_path(created)
    )
    assert ok(response)["password"] != "mine"
