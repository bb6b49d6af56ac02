"""ÖBS requests and answers as pure functions (contract §5), shared by both client flavours."""

from __future__ import annotations

from datetime import date, datetime
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from saglik.client._core import Call, gateway_failure, json_or_none, unparseable
from saglik.client.errors import ObsAuthorizationFailed, ObsInvalid, ObsNotFound
from saglik.client.obs_models import (
    FormRef,
    IstanbulDateTime,
    ObsBasic,
    ObsFull,
    ServisSonucDurumu,
)

T = TypeVar("T")

FORM_LIST: TypeAdapter[list[FormRef]] = TypeAdapter(list[FormRef])
BASIC: TypeAdapter[ObsBasic] = TypeAdapter(ObsBasic)
FULL: TypeAdapter[ObsFull] = TypeAdapter(ObsFull)
DEATH_DATE: TypeAdapter[datetime] = TypeAdapter(IstanbulDateTime)


def _decode(response: httpx.Response, *, method: str, result: TypeAdapter[T]) -> T:
    status = response.status_code
    if status == 500:
        # The documented authorization failure; its body is not relied on (JSON here, an HTML
        # page or nothing behind other gateways) — the status says it all.
        raise ObsAuthorizationFailed(
            f"{method}: authorization failed (HTTP 500): wrong credentials or no right on this "
            "method (the service does not say which)",
            status=status,
            method=method,
        )
    if status != 200:
        raise gateway_failure(response, method)
    envelope = json_or_none(response)
    if not isinstance(envelope, dict) or "State" not in envelope:
        raise unparseable(method, status, "no ServisSonucu envelope")
    try:
        state = ServisSonucDurumu(envelope["State"])
    except (TypeError, ValueError):
        raise unparseable(method, status, "State is not an integer") from None
    message = envelope.get("Message")
    text = message if isinstance(message, str) else ""
    if state is ServisSonucDurumu.UYARI:
        raise ObsNotFound(f"{method}: {text or 'no matching record'}", status=status, method=method)
    if state is ServisSonucDurumu.HATA:
        raise ObsInvalid(f"{method}: {text or 'invalid parameters'}", status=status, method=method)
    if state is not ServisSonucDurumu.BASARILI:
        raise unparseable(method, status, f"unknown State {int(state)}")
    try:
        return result.validate_python(envelope.get("Result"))
    except ValidationError as exc:
        raise unparseable(method, status, f"{exc.error_count()} field error(s)") from None


def _day(value: date) -> str:
    # A datetime is a date too; its isoformat() would carry the time and be refused.
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def call(method: str, result: TypeAdapter[T], **params: Any) -> Call[T]:
    """A GET of ``method`` with the given query parameters (``None`` ones left out)."""
    query = {
        name: _day(value) if isinstance(value, date) else str(value)
        for name, value in params.items()
        if value is not None
    }
    decode = partial(_decode, method=method, result=result)
    return Call(method, "GET", f"OBS/{method}", decode, params=query)


def by_date(method: str, day: date, il: int | None) -> Call[list[FormRef]]:
    return call(method, FORM_LIST, Tarih=day, IlKodu=il)


def by_tc(
    method: str, result: TypeAdapter[T], tc: str, first_name: str, last_name: str, birth: date
) -> Call[T]:
    return call(method, result, TcKimlikNo=tc, Adi=first_name, Soyadi=last_name, DogumTarihi=birth)


def by_form(method: str, result: TypeAdapter[T], form_no: str, referans_no: str) -> Call[T]:
    return call(method, result, FormNo=form_no, ReferansNo=referans_no)


def by_passport(
    method: str, result: TypeAdapter[T], passport: str, first_name: str, last_name: str
) -> Call[T]:
    return call(method, result, PasaportNo=passport, Adi=first_name, Soyadi=last_name)
