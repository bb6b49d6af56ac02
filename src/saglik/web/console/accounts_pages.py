"""Institutions and service users: what ``saglik institution``, ``saglik user`` and the operator
API's ``/institutions`` and ``/users`` do, as pages.

A generated password is rendered in the answer to the POST that made it and never again: the
service keeps only its hash. Every rule (username, CIDR, rate limit, scope) is the service's; a
refused form comes back as it was typed, with the service's reason."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from saglik.domain.methods import ALL_METHODS, HES_METHODS, OBS_METHODS
from saglik.services.accounts import AccountService
from saglik.services.places import Places
from saglik.store.accounts_repo import UserRecord
from saglik.web.console.pages import (
    Console,
    Refused,
    checked,
    number,
    optional,
    text,
    values,
    whole,
)

METHOD_GROUPS = (("HES", HES_METHODS), ("ÖBS", OBS_METHODS))
"""The rights checklist's fieldsets, in the order the services are documented."""

_SEPARATORS = re.compile(r"[\s,;]+")


def listed(value: str) -> list[str]:
    """A list typed one item a line or comma-separated (allow-lists, client addresses)."""
    return [item for item in _SEPARATORS.split(value) if item]


@dataclass(frozen=True)
class Draft:
    """A user's settings as a form shows them: as stored, or as typed in a refused form, so the
    operator corrects the mistake instead of typing everything again."""

    username: str = ""
    institution: str = ""
    env: str = "live"
    methods: frozenset[str] = frozenset()
    all_methods: bool = False
    province: str = ""
    district: str = ""
    ip_allowlist: str = ""
    rate_limit: str = ""
    active: bool = True

    @classmethod
    def typed(cls, form: FormData) -> Draft:
        return cls(
            username=text(form, "username"),
            institution=text(form, "institution"),
            env=text(form, "env") or "live",
            methods=frozenset(values(form, "methods")),
            all_methods=checked(form, "all_methods"),
            province=text(form, "province_code"),
            district=text(form, "district_code"),
            ip_allowlist=text(form, "ip_allowlist"),
            rate_limit=text(form, "rate_limit"),
            active=checked(form, "active"),
        )

    @classmethod
    def stored(cls, user: UserRecord) -> Draft:
        return cls(
            username=user.username,
            institution=user.institution_name,
            env=user.env,
            methods=user.methods,
            province="" if user.province_code is None else str(user.province_code),
            district="" if user.district_code is None else str(user.district_code),
            ip_allowlist="\n".join(user.ip_allowlist),
            rate_limit=user.rate_limit or "",
            active=user.active,
        )


def settings(form: FormData) -> dict[str, Any]:
    """The settings a user form sets, as ``add_user``/``update_user`` take them. Raises
    ``InvalidInput`` for a code that is not a number: call it inside ``console.attempt``."""
    return {
        "methods": ALL_METHODS if checked(form, "all_methods") else values(form, "methods"),
        "province_code": number(form, "province_code"),
        "district_code": number(form, "district_code"),
        "ip_allowlist": listed(text(form, "ip_allowlist")),
        "rate_limit": optional(form, "rate_limit"),
    }


@dataclass
class PlaceNames:
    """Names of the provinces and districts the page shows, and the districts of the province a
    form has chosen (its district select lists them before any htmx request)."""

    provinces: dict[int, str]
    districts: dict[int, str] = field(default_factory=dict)
    chosen: list[tuple[int, str]] = field(default_factory=list)


def place_names(places: Places, users: list[UserRecord], chosen: str) -> PlaceNames:
    """Blocking (reads the districts table): call it off the event loop."""
    names = PlaceNames(dict(places.provinces()))
    scoped = {u.province_code for u in users if u.district_code is not None}
    for plate in sorted(p for p in scoped if p is not None):
        names.districts.update(places.districts(plate))
    chosen_plate = whole(chosen, 3)
    if chosen_plate is not None:
        names.chosen = places.districts(chosen_plate)
    return names


@dataclass(frozen=True)
class UsersView:
    institutions: list[tuple[int, str, datetime, int]]
    users: list[UserRecord]
    places: PlaceNames

    @property
    def institution_options(self) -> list[tuple[str, str]]:
        return [(name, name) for _, name, _, _ in self.institutions]


def users_view(
    accounts: AccountService, places: Places, env: str | None, draft: Draft
) -> UsersView:
    users = accounts.list_users(env)
    return UsersView(
        accounts.list_institutions(), users, place_names(places, users, draft.province)
    )


def _path(request: Request) -> tuple[str, str]:
    return request.path_params["env"], request.path_params["username"]


def routes(console: Console) -> list[BaseRoute]:
    places = console.root.places
    common = {
        "groups": METHOD_GROUPS,
        "every_method": frozenset(ALL_METHODS),
    }

    async def users_page(
        request: Request, *, status: int = 200, draft: Draft | None = None, **context: Any
    ) -> Response:
        accounts = console.services(request).accounts
        form = draft or Draft()
        env = request.query_params.get("env") or None
        view = await console.attempt(lambda: users_view(accounts, places, env, form))
        if isinstance(view, Refused):
            context.setdefault("error", view.message)
            status = view.status if status < 400 else status
            view = UsersView([], [], PlaceNames(dict(Places.provinces())))
        return console.render(
            request,
            "accounts/users.html",
            {
                **common,
                "error": None,
                "created": None,
                "institution_added": None,
                "institution_name": "",
                "unlocked": None,
                "unlock_form": {"username": "", "env": "live", "addresses": ""},
                **context,
                "view": view,
                "draft": form,
                "env_filter": env or "",
            },
            status=status,
        )

    async def list_users(request: Request) -> Response:
        return await users_page(request)

    async def add_institution(request: Request) -> Response:
        name = text(await console.form(request), "name")
        accounts = console.services(request).accounts
        added = await console.attempt(lambda: accounts.add_institution(name))
        if isinstance(added, Refused):
            return await users_page(
                request, status=added.status, error=added.message, institution_name=name
            )
        return await users_page(request, status=201, institution_added=added.name)

    async def add_user(request: Request) -> Response:
        form = await console.form(request)
        draft = Draft.typed(form)
        accounts = console.services(request).accounts
        made = await console.attempt(
            lambda: accounts.add_user(
                username=draft.username,
                institution=draft.institution,
                env=draft.env,
                **settings(form),
            )
        )
        if isinstance(made, Refused):
            return await users_page(request, status=made.status, error=made.message, draft=draft)
        return await users_page(request, status=201, created=made)

    async def unlock(request: Request) -> Response:
        form = await console.form(request)
        username = optional(form, "username")
        env = text(form, "env") if username else None
        addresses = listed(text(form, "addresses"))
        accounts = console.services(request).accounts
        cleared = await console.attempt(lambda: accounts.unlock(username, env, addresses))
        if isinstance(cleared, Refused):
            return await users_page(
                request,
                status=cleared.status,
                error=cleared.message,
                unlock_form={
                    "username": username or "",
                    "env": env or "live",
                    "addresses": text(form, "addresses"),
                },
            )
        return await users_page(request, unlocked=cleared)

    async def user_page(
        request: Request, *, status: int = 200, draft: Draft | None = None, **context: Any
    ) -> Response:
        env, username = _path(request)
        accounts = console.services(request).accounts
        found = await console.attempt(lambda: accounts.user(env, username))
        if isinstance(found, Refused):
            return console.render(
                request,
                "accounts/user.html",
                {**common, "user": None, "username": username, "error": found.message},
                status=found.status,
            )
        form = draft or Draft.stored(found)
        names = await console.attempt(lambda: place_names(places, [found], form.province))
        return console.render(
            request,
            "accounts/user.html",
            {
                **common,
                "error": None,
                "saved": False,
                "issued": None,
                "unlocked": None,
                **context,
                "user": found,
                "username": username,
                "draft": form,
                "places": names if isinstance(names, PlaceNames) else PlaceNames({}),
            },
            status=status,
        )

    async def show_user(request: Request) -> Response:
        return await user_page(request)

    async def update_user(request: Request) -> Response:
        env, username = _path(request)
        form = await console.form(request)
        accounts = console.services(request).accounts
        saved = await console.attempt(
            lambda: accounts.update_user(
                env, username, **settings(form), active=checked(form, "active")
            )
        )
        if isinstance(saved, Refused):
            return await user_page(
                request, status=saved.status, error=saved.message, draft=Draft.typed(form)
            )
        return await user_page(request, saved=True)

    def user_action(
        shown_as: str, work: Callable[[AccountService, str, str], object]
    ) -> Callable[[Request], Awaitable[Response]]:
        """A button of the user page: one service call on (accounts, env, username), its answer
        shown on the page under ``shown_as``."""

        async def act(request: Request) -> Response:
            env, username = _path(request)
            accounts = console.services(request).accounts
            done = await console.attempt(lambda: work(accounts, env, username))
            if isinstance(done, Refused):
                return await user_page(request, status=done.status, error=done.message)
            shown: dict[str, Any] = {shown_as: done}
            return await user_page(request, **shown)

        return act

    reset_password = user_action("issued", lambda a, env, name: a.reset_password(name, env))
    unlock_user = user_action("unlocked", lambda a, env, name: a.unlock(name, env, []))

    return [
        Route("/users", list_users, methods=["GET"]),
        Route("/users", add_user, methods=["POST"]),
        Route("/institutions", add_institution, methods=["POST"]),
        Route("/users/unlock", unlock, methods=["POST"]),
        Route("/users/{env}/{username}", show_user, methods=["GET"]),
        Route("/users/{env}/{username}", update_user, methods=["POST"]),
        Route("/users/{env}/{username}/password", reset_password, methods=["POST"]),
        Route("/users/{env}/{username}/unlock", unlock_user, methods=["POST"]),
    ]
