"""HES requests and answers as pure functions (contract §4), shared by both client flavours."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from saglik.client import errors
from saglik.client._core import Call, gateway_failure, json_or_none, unparseable
from saglik.client.codes import normalize_code
from saglik.client.hes_models import (
    ERROR_EXPIRED,
    ERROR_INVALID,
    ERROR_NOT_FOUND,
    BulkResult,
    HesPlusResult,
    HesResult,
    R,
    Visit,
)

BULK_LIMIT = 500
"""Codes per bulk request: the service's cap (more is a 400)."""

VISITOR = "check-visitor-hes-code"
EMPLOYEE = "check-employee-hes-code"
LEGACY = "check-hes-code"
PLUS = "check-hes-code-plus"
BULK = "check-hes-codes"
BULK_PLUS = "check-hes-codes-plus"
SINGLE_PLAIN = (EMPLOYEE, LEGACY)
SINGLE_PLUS = (PLUS,)
"""The single-code methods that answer for a code alone (the visitor check needs a place)."""


CODE_ERRORS: dict[str, tuple[type[errors.HesCodeError], str]] = {
    ERROR_NOT_FOUND: (errors.HesCodeNotFound, "not found"),
    ERROR_EXPIRED: (errors.HesCodeExpired, "has expired"),
}


def hes_failure(
    response: httpx.Response, method: str, code: str | None
) -> errors.SaglikClientError:
    """The exception for a non-200 HES answer."""
    status = response.status_code
    body = json_or_none(response)
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    if status == 400:
        key = problem.get("errorKey")
        if key in CODE_ERRORS:
            kind, what = CODE_ERRORS[key]
            return kind(
                f"{method}: HES code {what} ({key})", code=code or "", error_key=key, method=method
            )
        field_errors = [
            errors.FieldError(
                object_name=str(item.get("objectName", "")),
                field=str(item.get("field", "")),
                message=str(item.get("message", "")),
            )
            for item in problem.get("fieldErrors") or []
            if isinstance(item, dict)
        ]
        described = ", ".join(f"{e.field} {e.message}" for e in field_errors) or "not valid JSON"
        return errors.RequestInvalid(
            f"{method}: request invalid (HTTP 400): {described}",
            field_errors=field_errors,
            method=method,
        )
    if status == 401:
        return errors.NotAuthenticated(
            f"{method}: not authenticated (HTTP 401): wrong password",
            status=status,
            method=method,
        )
    if status == 403:
        return errors.PermissionDenied(
            f"{method}: permission denied (HTTP 403): unknown user (a credential of the other "
            "environment is one), user disabled, client address not allowed, or method not granted",
            status=status,
            method=method,
        )
    return gateway_failure(response, method)


def _decode_model(
    response: httpx.Response, *, method: str, code: str | None, model: type[BaseModel]
) -> Any:
    if response.status_code != 200:
        raise hes_failure(response, method, code)
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise unparseable(method, 200, f"{exc.error_count()} field error(s)") from None


def single_call(method: str, code: str, model: type[R], extra: dict[str, Any]) -> Call[R]:
    normal = normalize_code(code)
    decode = partial(_decode_model, method=method, code=normal, model=model)
    return Call(method, "POST", f"hes/{method}", decode, json_body={"hes_code": normal, **extra})


def _as_bulk(response: httpx.Response, *, single: Call[R], code: str) -> BulkResult[R]:
    try:
        return BulkResult(success={code: single.decode(response)})
    except errors.HesCodeError as exc:
        return BulkResult(failure={code: exc.error_key})


def single_as_bulk(method: str, code: str, model: type[R]) -> Call[BulkResult[R]]:
    """One normalised code through a single-code method, answered in the bulk methods' shape
    (found, or its errorKey), so ``check_many`` merges it like a bulk answer."""
    single = single_call(method, code, model, {})
    decode = partial(_as_bulk, single=single, code=code)
    return Call(method, "POST", single.path, decode, json_body=single.json_body)


def visit_fields(visit: Visit) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "city": visit.city,
        "district": visit.district,
        "explicit_address": visit.explicit_address,
    }
    if visit.latitude is not None and visit.longitude is not None:
        fields["location"] = {"latitude": visit.latitude, "longitude": visit.longitude}
    return fields


_BULK_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {
    HesResult: TypeAdapter(dict[str, HesResult]),
    HesPlusResult: TypeAdapter(dict[str, HesPlusResult]),
}
_KEYS = TypeAdapter(dict[str, str])


def _decode_bulk(response: httpx.Response, *, method: str, model: type[R]) -> BulkResult[R]:
    if response.status_code != 200:
        raise hes_failure(response, method, None)
    body = json_or_none(response)
    if not isinstance(body, dict):
        raise unparseable(method, 200, "not a JSON object")
    try:
        success = _BULK_ADAPTERS[model].validate_python(body.get("success_map", {}))
        failure = _KEYS.validate_python(body.get("unsuccess_map", {}))
    except ValidationError as exc:
        raise unparseable(method, 200, f"{exc.error_count()} field error(s)") from None
    return BulkResult(success=success, failure=failure)


def bulk_call(codes: list[str], model: type[R]) -> Call[BulkResult[R]]:
    """One bulk request for already normalised, distinct codes (1..500)."""
    method = BULK_PLUS if model is HesPlusResult else BULK
    decode = partial(_decode_bulk, method=method, model=model)
    body = [{"hes_code": code} for code in codes]
    return Call(method, "POST", f"hes/{method}", decode, json_body=body)


def size_refusal(count: int, method: str) -> errors.RequestInvalid:
    return errors.RequestInvalid(
        f"{method}: {count} codes; a bulk request takes 1 to {BULK_LIMIT} "
        "(check_many splits any number)",
        field_errors=[errors.FieldError("hesCodeRequests", "hes_codes", "Size")],
        status=None,
        method=method,
    )


@dataclass
class BulkPlan:
    """A batch of caller inputs turned into requests: each distinct code once, in chunks of at
    most 500, and the way back from the server's keys to the caller's inputs."""

    inputs_of: dict[str, list[str]] = field(default_factory=dict)
    invalid: list[str] = field(default_factory=list)
    chunk_size: int = BULK_LIMIT

    @classmethod
    def of(cls, codes: Iterable[str], *, strict: bool, chunk_size: int = BULK_LIMIT) -> BulkPlan:
        if not 1 <= chunk_size <= BULK_LIMIT:
            raise ValueError(f"chunk_size must be within 1..{BULK_LIMIT}")
        plan = cls(chunk_size=chunk_size)
        for text in codes:
            try:
                normal = normalize_code(text)
            except errors.InvalidCode:
                if strict:
                    raise
                plan.invalid.append(text)
                continue
            inputs = plan.inputs_of.setdefault(normal, [])
            if text not in inputs:
                inputs.append(text)
        return plan

    @property
    def total(self) -> int:
        """Distinct codes to send."""
        return len(self.inputs_of)

    def chunks(self) -> Iterator[list[str]]:
        codes = list(self.inputs_of)
        for start in range(0, len(codes), self.chunk_size):
            yield codes[start : start + self.chunk_size]

    def finish(self, answers: Iterable[BulkResult[R]]) -> BulkResult[R]:
        """The answers keyed by the caller's inputs (an input the server left out of both maps
        — which the contract does not allow — is reported as not found rather than lost)."""
        merged: BulkResult[R] = BulkResult()
        for answer in answers:
            merged.merge(answer)
        result: BulkResult[R] = BulkResult()
        for normal, inputs in self.inputs_of.items():
            for text in inputs:
                if normal in merged.success:
                    result.success[text] = merged.success[normal]
                else:
                    result.failure[text] = merged.failure.get(normal, ERROR_NOT_FOUND)
        for text in self.invalid:
            result.failure[text] = ERROR_INVALID
        return result
