"""HES wire formats: request validation (one model per method) and result rendering (field order
and date formats exactly as contract §4.2).

What is a field error and what is a code error (contract §4.4): a ``hes_code`` that is present
and a string is a code, whatever its shape; a blank or dashed one is simply not found, answered
``hescodenotfound`` (the document's answer to a code in an unsuitable format), and in bulk it
lands in ``unsuccess_map`` while the rest of the batch is answered. Only a code that is absent,
JSON ``null`` (both ``NotNull``), of another JSON type or over its bound is a field error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from saglik.domain.hes import HesResult
from saglik.services.hes import BULK_MAX


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("not_blank", "must not be blank")
    return value


HES_CODE_MAX = 64
"""A code is 10 characters; up to 64 a malformed one (blank, dashes, spaces, a scanned
``TCKN|CODE`` payload) is still answered ``hescodenotfound``, as the contract promises; past that
no client typed or scanned it (contract §4.1, Bounds)."""
PLACE_NAME_MAX = 100
"""``city`` and ``district``: the longest Turkish province or district name is under 20."""
ADDRESS_MAX = 500
"""``explicit_address``: a postal address with building and unit fits in well under 200."""

# Required and bounded: what a visitor check writes to the outbox (and sends to the Ministry of
# Interior) stays small. The length is checked first, so a huge value is never scanned. A code may
# be blank (it is then not found, like any other shape that is not a code); the visit's place
# fields may not.
HesCodeText = Annotated[str, Field(max_length=HES_CODE_MAX)]
PlaceName = Annotated[str, Field(max_length=PLACE_NAME_MAX), AfterValidator(_not_blank)]
Address = Annotated[str, Field(max_length=ADDRESS_MAX), AfterValidator(_not_blank)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True)


class Location(_Strict):
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]


class VisitorRequest(_Strict):
    hes_code: HesCodeText
    city: PlaceName
    district: PlaceName
    explicit_address: Address
    location: Location | None = None


class CodeRequest(_Strict):
    hes_code: HesCodeText


BulkRequest = Annotated[list[CodeRequest], Field(min_length=1, max_length=BULK_MAX)]

VISITOR = TypeAdapter(VisitorRequest)
SINGLE = TypeAdapter(CodeRequest)
BULK: TypeAdapter[list[CodeRequest]] = TypeAdapter(BulkRequest)

OBJECT_NAMES = {VISITOR: "visitorHesCodeRequest", SINGLE: "hesCodeRequest", BULK: "hesCodeRequests"}
_ROOT_FIELD = {VISITOR: "body", SINGLE: "body", BULK: "hes_codes"}

# pydantic error type → the Bean Validation constraint name a JHipster service reports
_CONSTRAINT = {
    "missing": "NotNull",
    "not_blank": "NotBlank",
    "too_short": "Size",
    "too_long": "Size",
    "string_too_long": "Size",
    "greater_than_equal": "DecimalMin",
    "less_than_equal": "DecimalMax",
    "finite_number": "DecimalMax",
}


_ABSENT = object()


def _constraint(error: Any) -> str:
    """JSON ``null`` where a value is required is ``NotNull``, like a missing value (a
    ``@NotNull`` field deserialised from ``null`` in the JHipster service); only a value of
    another JSON type is ``TypeMismatch``. ``location: null`` is not an error at all."""
    if error["type"] != "missing" and error.get("input", _ABSENT) is None:
        return "NotNull"
    return _CONSTRAINT.get(error["type"], "TypeMismatch")


class UnparseableJson(Exception):
    pass


def _field(adapter: TypeAdapter[Any], loc: tuple[int | str, ...]) -> str:
    name = _ROOT_FIELD[adapter] if adapter is BULK or not loc else ""
    for part in loc:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else part
    return name


def parse(adapter: TypeAdapter[Any], body: bytes) -> tuple[Any, list[dict[str, str]]]:
    """``(request, [])`` or ``(None, fieldErrors)``; raises ``UnparseableJson`` for broken JSON."""
    try:
        return adapter.validate_json(body), []
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False)
        if any(e["type"] == "json_invalid" for e in errors):
            raise UnparseableJson from None
        object_name = OBJECT_NAMES[adapter]
        field_errors = [
            {
                "objectName": object_name,
                "field": _field(adapter, tuple(e["loc"])),
                "message": _constraint(e),
            }
            for e in errors
        ]
        return None, field_errors


def _utc_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_millis(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def render_result(result: HesResult) -> dict[str, Any]:
    """The result object, its keys in the observed order of every method (contract §4.2): the
    document's bulk example and a live plus answer agree on it, its single-code examples do not."""
    out: dict[str, Any] = {
        "expiration_date": _utc_seconds(result.expiration_date),
        "current_health_status": result.current_health_status.value,
        "masked_identity_number": result.masked_identity_number,
        "masked_firstname": result.masked_firstname,
        "masked_lastname": result.masked_lastname,
    }
    if result.plus is not None:
        plus = result.plus
        negative = plus.last_negative_test_date
        out["is_vaccinated"] = plus.is_vaccinated
        out["is_immune"] = plus.is_immune
        out["is_test_data_shared"] = plus.is_test_data_shared
        out["last_negative_test_date"] = _utc_millis(negative) if negative is not None else None
    return out
