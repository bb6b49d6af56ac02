"""``saglik institution`` and ``saglik user``: who may call the services."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from saglik.cli.context import (
    clear_errors,
    console,
    fail,
    operator,
)
from saglik.cli.tables import print_whole, whole_table
from saglik.domain.methods import ALL_METHODS
from saglik.services.accounts import AccountService, IssuedCredential

institution_app = typer.Typer(
    help="Institutions (kurum) that hold service users.", no_args_is_help=True
)
user_app = typer.Typer(help="Service users: credentials, rights, scope.", no_args_is_help=True)

EnvOption = Annotated[str, typer.Option("--env", help="Environment: test or live.")]


def _service() -> AccountService:
    return operator().accounts


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        fail("--password-stdin given but standard input was empty")
    return password


def _show_once(credential: IssuedCredential, generated: bool) -> None:
    console.print(f"user [bold]{escape(credential.username)}[/] ({credential.env})")
    if generated:
        console.print("password (shown once, store it now):")
        print(credential.password)


@institution_app.command("add")
def institution_add(name: Annotated[str, typer.Argument(help="The institution's name.")]) -> None:
    """Register an institution."""
    with clear_errors():
        _service().add_institution(name)
    console.print(f"institution [bold]{escape(name)}[/] added")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="Login name for Basic auth.")],
    institution: Annotated[str, typer.Option(help="Name of an existing institution.")],
    env: EnvOption,
    method: Annotated[
        list[str] | None,
        typer.Option(
            "--method", help=f"A granted method; repeat for more. Known: {', '.join(ALL_METHODS)}"
        ),
    ] = None,
    all_methods: Annotated[bool, typer.Option("--all-methods", help="Grant every method.")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    ip: Annotated[
        list[str] | None,
        typer.Option("--ip", help="Allowed client network (CIDR); repeat for more."),
    ] = None,
    rate_limit: Annotated[
        str | None, typer.Option(help="Calls allowed per window, e.g. 100/second or 5000/hour.")
    ] = None,
    il: Annotated[
        int | None,
        typer.Option("--il", help="ÖBS scope: bind the user to this province (plate code 1-81)."),
    ] = None,
    ilce: Annotated[
        int | None,
        typer.Option("--ilce", help="ÖBS scope: and to this district code of that province."),
    ] = None,
) -> None:
    """Create a service user. Without --password-stdin a strong password is generated and
    printed once; only its Argon2id hash is stored."""
    if all_methods == bool(method):
        fail("give either --method (one or more) or --all-methods")
    password = _read_password() if password_stdin else None
    with clear_errors():
        credential = _service().add_user(
            username=username,
            institution=institution,
            env=env,
            methods=ALL_METHODS if all_methods else (method or []),
            password=password,
            ip_allowlist=ip or [],
            rate_limit=rate_limit,
            province_code=il,
            district_code=ilce,
        )
    _show_once(credential, generated=password is None)


@user_app.command("reset-password")
def user_reset_password(
    username: Annotated[str, typer.Argument(help="The user's login name.")],
    env: EnvOption,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the new password from standard input.")
    ] = False,
) -> None:
    """Replace a user's password (every worker stops accepting the old one at once)."""
    password = _read_password() if password_stdin else None
    with clear_errors():
        credential = _service().reset_password(username, env, password)
    _show_once(credential, generated=password is None)


@user_app.command("unlock")
def user_unlock(
    username: Annotated[
        str | None, typer.Argument(help="The user whose failed-password count to clear.")
    ] = None,
    env: Annotated[
        str | None, typer.Option("--env", help="The user's environment: test or live.")
    ] = None,
    address: Annotated[
        list[str] | None,
        typer.Option("--address", help="A client address whose count to clear (repeatable)."),
    ] = None,
) -> None:
    """Clear failed-password counts, and with them any lock they set: a username's (with --env),
    client addresses' (--address), or both. Workers stop refusing within the credentials poll
    interval (README "Guessing")."""
    with clear_errors():
        cleared = _service().unlock(username, env, address or ())
    console.print(f"cleared {cleared} failed-password count(s)", highlight=False)


def _methods_cell(methods: frozenset[str]) -> str:
    if methods == frozenset(ALL_METHODS):
        return "all"
    return "\n".join(m for m in ALL_METHODS if m in methods) or "-"


def _scope_cell(province: int | None, district: int | None) -> str:
    if province is None:
        return "country"
    return f"il {province}" + (f", ilçe {district}" if district is not None else "")


@user_app.command("list")
def user_list() -> None:
    """List service users with their rights (never their passwords)."""
    headers = ("env", "username", "institution", "active", "methods", "ip allow-list")
    table = whole_table(*headers, "rate limit", "scope")
    with clear_errors():
        users = _service().list_users()
    for user in users:
        table.add_row(
            *map(
                escape,
                (
                    user.env,
                    user.username,
                    user.institution_name,
                    "yes" if user.active else "no",
                    _methods_cell(user.methods),
                    "\n".join(user.ip_allowlist) or "any",
                    user.rate_limit or "none",
                    _scope_cell(user.province_code, user.district_code),
                ),
            )
        )
    print_whole(table)
