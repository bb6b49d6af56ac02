"""Institutions and service users (``/institutions``, ``/users``): what ``saglik institution``
and ``saglik user`` do, over HTTP. Passwords are generated and shown once; hashes never leave."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saglik.domain.methods import ALL_METHODS
from saglik.web.admin import reading
from saglik.web.admin.context import ServiceFactory, in_thread
from saglik.web.admin.errors import endpoint
from saglik.web.admin.models import InstitutionIn, UserIn, UserPatch, UsersQuery
from saglik.web.admin.routing import resource
from saglik.web.admin.views import (
    InstitutionList,
    InstitutionOut,
    IssuedUser,
    PasswordOut,
    UserList,
    UserOut,
    ok,
)


def routes(services: ServiceFactory) -> list[Route]:
    @endpoint
    async def list_institutions(request: Request) -> Response:
        rows = await in_thread(services.of(request).accounts.list_institutions)
        return ok(
            InstitutionList(
                institutions=[InstitutionOut(name=n, created_at=c, users=u) for _, n, c, u in rows]
            )
        )

    @endpoint
    async def add_institution(request: Request) -> Response:
        data = await reading.body(request, InstitutionIn)
        accounts = services.of(request).accounts

        def work() -> InstitutionOut:
            added = accounts.add_institution(data.name)
            return InstitutionOut(name=added.name, created_at=added.created_at, users=0)

        return ok(await in_thread(work), 201)

    @endpoint
    async def list_users(request: Request) -> Response:
        wanted = reading.query(request, UsersQuery).env
        users = await in_thread(lambda: services.of(request).accounts.list_users(wanted))
        return ok(UserList(users=[UserOut.of(u) for u in users]))

    @endpoint
    async def add_user(request: Request) -> Response:
        data = await reading.body(request, UserIn)
        accounts = services.of(request).accounts

        def work() -> IssuedUser:
            issued = accounts.add_user(
                username=data.username,
                institution=data.institution,
                env=data.env,
                methods=ALL_METHODS if data.all_methods else data.methods or (),
                province_code=data.province_code,
                district_code=data.district_code,
                ip_allowlist=data.ip_allowlist,
                rate_limit=data.rate_limit,
            )
            user = UserOut.of(issued.user)
            return IssuedUser(**user.model_dump(), password=issued.password)

        return ok(await in_thread(work), 201)

    @endpoint
    async def get_user(request: Request) -> Response:
        env, username = reading.path_env(request), reading.path_username(request)
        user = await in_thread(lambda: services.of(request).accounts.user(env, username))
        return ok(UserOut.of(user))

    @endpoint
    async def update_user(request: Request) -> Response:
        env, username = reading.path_env(request), reading.path_username(request)
        data = await reading.body(request, UserPatch)
        given = data.model_fields_set
        changes: dict[str, Any] = {
            name: getattr(data, name)
            for name in ("province_code", "district_code", "rate_limit", "active")
            if name in given
        }
        # the service reads None in these two as "keep": an explicit null clears them
        for name in ("methods", "ip_allowlist"):
            if name in given:
                changes[name] = getattr(data, name) or []
        accounts = services.of(request).accounts
        user = await in_thread(lambda: accounts.update_user(env, username, **changes))
        return ok(UserOut.of(user))

    @endpoint
    async def reset_password(request: Request) -> Response:
        env, username = reading.path_env(request), reading.path_username(request)
        accounts = services.of(request).accounts
        issued = await in_thread(lambda: accounts.reset_password(username, env))
        return ok(PasswordOut(username=issued.username, env=issued.env, password=issued.password))

    return [
        resource("/institutions", GET=list_institutions, POST=add_institution),
        resource("/users", GET=list_users, POST=add_user),
        resource("/users/{env}/{username}", GET=get_user, PATCH=update_user),
        resource("/users/{env}/{username}/password", POST=reset_password),
    ]
