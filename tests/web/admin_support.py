"""Helpers for the black-box operator API tests: operator tokens in the server's store, a client
that sends them and checks every answer against ``openapi/admin.yaml``, and reading the change
log the server writes.

Everything talks to the server over its socket or reads the store it writes; nothing calls into
the web layer."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from saglik.domain.clock import ManualClock
from saglik.domain.tckn import random_tckn
from saglik.services.operator_tokens import OperatorTokens
from saglik.store.schema import operator_changes
from tests.change_support import change_log
from tests.conftest import LiveServer
from tests.web.openapi_support import contract_spec

ADMIN = contract_spec("admin")
PREFIX = "/admin/api"
JSON = "application/json"
PROBLEM = "application/problem+json"

_rng = random.Random()


def new_tckn() -> str:
    return random_tckn(_rng)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def token_service(engine: Engine, clock: ManualClock) -> OperatorTokens:
    return OperatorTokens(engine, clock, change_log(engine, clock))


@dataclass(frozen=True)
class Token:
    name: str
    value: str

    @property
    def actor(self) -> str:
        return f"token:{self.name}"

    @property
    def header(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.value}"}


def make_token(engine: Engine, clock: ManualClock, name: str | None = None) -> Token:
    name = name or unique("ops")
    return Token(name, token_service(engine, clock).create(name))


@pytest.fixture(scope="session")
def operator_token(store: Engine, clock: ManualClock) -> Token:
    """One token per backend for the tests that only need to be let in."""
    return make_token(store, clock)


def fill(template: str, path_params: Mapping[str, str] | None) -> str:
    url = template
    for key, value in (path_params or {}).items():
        url = url.replace("{" + key + "}", value)
    return url


class Admin:
    """Calls ``/admin/api`` with a token; every answer is checked against the spec (its status
    is documented for the operation; content type, headers and body conform)."""

    def __init__(self, client: httpx.Client, token: Token | None) -> None:
        self.client = client
        self.token = token

    def call(
        self,
        verb: str,
        template: str,
        *,
        path: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> httpx.Response:
        sent = dict(self.token.header) if self.token else {}
        sent.update(headers or {})
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode()
            sent.setdefault("Content-Type", JSON)
        response = self.client.request(
            verb,
            PREFIX + fill(template, path),
            params=params,
            content=content,
            headers=sent,
        )
        if check:
            used = {k: v for k, v in (path or {}).items() if "{" + k + "}" in template}
            ADMIN.assert_conforms(
                PREFIX + template, response, method=verb, path_parameters=used or None
            )
        return response

    def get(self, template: str, **kw: Any) -> httpx.Response:
        return self.call("GET", template, **kw)

    def post(self, template: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.call("POST", template, json_body=body, **kw)

    def put(self, template: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.call("PUT", template, json_body=body, **kw)

    def patch(self, template: str, body: Any = None, **kw: Any) -> httpx.Response:
        return self.call("PATCH", template, json_body=body, **kw)


@pytest.fixture
def admin(server: LiveServer, operator_token: Token) -> Iterator[Admin]:
    with server.client() as client:
        yield Admin(client, operator_token)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == JSON
    return response.json()


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["message"] == f"error.http.{status}"
    assert body["detail"]
    return dict(body)


def field_errors(response: httpx.Response) -> set[str]:
    """The fields a 422 names."""
    body = problem(response, 422)
    return {e["field"] for e in body.get("errors", [])}


# --- the change log -----------------------------------------------------------------------------


def last_change_id(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(func.coalesce(func.max(operator_changes.c.id), 0))).scalar_one()
        )


def changes_since(engine: Engine, after_id: int) -> list[dict[str, Any]]:
    """The change-log rows written after ``after_id``, oldest first, before/after parsed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(operator_changes)
            .where(operator_changes.c.id > after_id)
            .order_by(operator_changes.c.id)
        ).all()
    out = []
    for row in rows:
        entry = dict(row._mapping)
        for key in ("before", "after"):
            entry[key] = json.loads(entry[key]) if entry[key] is not None else None
        out.append(entry)
    return out


def one_change(engine: Engine, after_id: int, token: Token) -> dict[str, Any]:
    """The single change written since ``after_id``, by ``token``."""
    rows = changes_since(engine, after_id)
    assert len(rows) == 1, rows
    assert rows[0]["actor"] == token.actor
    return rows[0]
