"""Problem-JSON bodies in the JHipster shapes the HES service uses (contract §3, §4.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from pydantic_core import to_json
from starlette.responses import Response

PROBLEM_BASE = "https://hescode.saglik.gov.tr/problem/"
PROBLEM_WITH_MESSAGE = PROBLEM_BASE + "problem-with-message"
CONSTRAINT_VIOLATION = PROBLEM_BASE + "constraint-violation"
MEDIA_TYPE = "application/problem+json"


def problem_response(
    body: Mapping[str, Any], status: int, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(to_json(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)


def http_problem(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Response:
    """401/403/404/405/413/415/429 and unparseable JSON: ``message`` is ``error.http.<status>``."""
    body = {
        "type": PROBLEM_WITH_MESSAGE,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "message": f"error.http.{status}",
    }
    return problem_response(body, status, headers)


def hes_error(error_key: str, title: str) -> Response:
    body = {
        "entityName": "hesCode",
        "errorKey": error_key,
        "type": PROBLEM_WITH_MESSAGE,
        "title": title,
        "status": 400,
        "message": f"error.{error_key}",
        "params": "hesCode",
    }
    return problem_response(body, 400)


def constraint_violation(field_errors: Sequence[Mapping[str, str]]) -> Response:
    body = {
        "type": CONSTRAINT_VIOLATION,
        "title": "Method argument not valid",
        "status": 400,
        "message": "error.validation",
        "fieldErrors": list(field_errors),
    }
    return problem_response(body, 400)
