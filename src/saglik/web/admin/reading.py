"""Reading a request of the operator API: its JSON body, its query string and its path values,
each into a validated model, or a refusal with the status the document promises
(415 not JSON, 413 too large, 400 unparseable, 422 invalid, 404 a path that names nothing)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from saglik.domain.methods import ENVIRONMENTS
from saglik.services.accounts import valid_username
from saglik.web.admin.errors import ApiError, invalid
from saglik.web.bodies import bounded_body, media_type

M = TypeVar("M", bound=BaseModel)

MAX_BODY = 1 << 20
"""A death form is a few kilobytes; a megabyte is room to spare and a bound on memory."""


async def body(request: Request, model: type[M]) -> M:
    if media_type(request) != "application/json":
        raise ApiError(415, "send the body as Content-Type: application/json")
    raw = await bounded_body(request, MAX_BODY)
    if raw is None:
        raise ApiError(413, "the body is larger than 1 MiB")
    try:
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        if any(e["type"] == "json_invalid" for e in exc.errors()):
            raise ApiError(400, "the body is not valid JSON (UTF-8)") from None
        raise invalid(exc, "body") from None


def query(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as exc:
        raise invalid(exc, "query") from None


def path_env(request: Request) -> str:
    env = str(request.path_params["env"])
    if env not in ENVIRONMENTS:
        raise ApiError(404, "no such environment (live or test)")
    return env


def path_username(request: Request) -> str:
    """A username as the services accept one; anything else names no user (and must not reach
    the store: PostgreSQL refuses NUL in text)."""
    username = str(request.path_params["username"])
    if not valid_username(username):
        raise ApiError(404, "no such user")
    return username


def path_form_no(request: Request) -> str:
    form_no = str(request.path_params["form_no"])
    if not (form_no.isascii() and form_no.isdigit() and len(form_no) <= 20):
        raise ApiError(404, "no form with that FormNo and ReferansNo")
    return form_no
