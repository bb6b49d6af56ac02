"""ÖBS routes: ``GET /services/g2g[/test]/saglik/OBS/<Method>`` (contract §5).

Query parameter names match case-insensitively, as on the original ASP.NET service. Any refusal
by the gateway — wrong credentials, unknown user, no right on the method, address not allowed —
is the document's HTTP 500 with one fixed body, so nothing tells the cases apart. The HTTP-level
answers (a wrong verb, a path naming no method, an unexpected failure) are envelopes too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response

from saglik.domain.obs import AUTH_FAILURE_MESSAGE, InvalidParameterError, Scope
from saglik.services.authn import Principal
from saglik.services.icd_names import IcdNames
from saglik.services.obs import Feed, Found, Lookup, ObsQueryService
from saglik.web import obs_wire
from saglik.web.gateway import Admission, Refusal
from saglik.web.pipeline import Reply

SERVICE_PATH = "saglik/OBS"

JSON = "application/json; charset=utf-8"
AUTH_FAILURE_BODY = to_json(obs_wire.invalid(AUTH_FAILURE_MESSAGE))
NO_SUCH_METHOD_MESSAGE = "Böyle bir servis metodu yok."
WRONG_VERB_MESSAGE = "Bu servis metodu yalnızca GET isteğiyle çağrılabilir."
INTERNAL_ERROR_MESSAGE = "Beklenmeyen bir hata oluştu; lütfen daha sonra tekrar deneyiniz."
"""The HTTP-level answers (contract §5.1): in the envelope too, never HES's problem JSON."""

Params = Mapping[str, str]
Handler = Callable[[str, Scope, Params], tuple[dict[str, Any], str, tuple[str, ...]]]


def _json(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(to_json(payload), status_code=status, media_type=JSON, headers=headers)


def _scope(principal: Principal) -> Scope:
    return Scope(principal.province_code, principal.district_code)


def _found(
    found: Found[Any], render: Callable[[Any], Any]
) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    if found.value is None:
        return obs_wire.not_found(), "not-found", found.subject_refs
    return obs_wire.success(render(found.value)), "ok", found.subject_refs


class ObsWire:
    service = "obs"

    def __init__(self, queries: ObsQueryService, icd_names: IcdNames) -> None:
        s = queries

        def full_dto(lookup: Lookup) -> dict[str, Any]:
            return obs_wire.full(lookup, icd_names)

        def by_date(feed: Feed) -> Handler:
            def handle(
                env: str, scope: Scope, p: Params
            ) -> tuple[dict[str, Any], str, tuple[str, ...]]:
                pairs = s.deaths_by_date(env, scope, p.get("tarih"), p.get("ilkodu"), feed)
                return obs_wire.success(obs_wire.form_list(pairs)), "ok", ()

            return handle

        def by_tc(full: bool) -> Handler:
            render = full_dto if full else obs_wire.basic
            return lambda env, scope, p: _found(
                s.by_identity(
                    env,
                    scope,
                    p.get("tckimlikno"),
                    p.get("adi"),
                    p.get("soyadi"),
                    p.get("dogumtarihi"),
                    full=full,
                ),
                render,
            )

        def by_form(full: bool) -> Handler:
            render = full_dto if full else obs_wire.basic
            return lambda env, scope, p: _found(
                s.by_form(env, scope, p.get("formno"), p.get("referansno"), full=full), render
            )

        def by_passport(full: bool) -> Handler:
            render = full_dto if full else obs_wire.basic
            return lambda env, scope, p: _found(
                s.by_passport(
                    env, scope, p.get("pasaportno"), p.get("adi"), p.get("soyadi"), full=full
                ),
                render,
            )

        self._handlers: dict[str, Handler] = {
            "GetTumOlumlerByDate": by_date(Feed.ALL),
            "GetAdliFormlarByDate": by_date(Feed.FORENSIC),
            "GetGuncellenenOlumlerByDate": by_date(Feed.UPDATED),
            "GetOlumByTcKimlikNoBasic": by_tc(False),
            "GetOlumByTcKimlikNoFull": by_tc(True),
            "GetOlumByFormNoBasic": by_form(False),
            "GetOlumByFormNoFull": by_form(True),
            "GetOlumByPasaportNoBasic": by_passport(False),
            "GetOlumByPasaportNoFull": by_passport(True),
            "GetOlumTarihiByTcKimlikNo": lambda env, scope, p: _found(
                s.death_date(env, scope, p.get("tckimlikno")), obs_wire.local
            ),
        }

        self._canonical = {name.lower(): name for name in self._handlers}

    def method(self, segment: str) -> str | None:
        return self._canonical.get(segment.lower())

    async def read(self, request: Request) -> Params | Reply:
        """ASP.NET binds parameters case-insensitively; the first value of a repeated one wins."""
        params: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key.lower(), value)
        return params

    def call(self, env: str, method: str, params: Params, principal: Principal) -> Reply:
        try:
            payload, outcome, refs = self._handlers[method](env, _scope(principal), params)
        except InvalidParameterError as exc:
            return Reply(_json(obs_wire.invalid(str(exc))), "invalid")
        return Reply(_json(payload), outcome, refs)

    def refused(self, admission: Admission) -> Response:
        """Every refusal but the rate limit's is the document's one 500, byte for byte."""
        assert admission.denial is not None
        if admission.denial.refusal is Refusal.UNAVAILABLE:
            return _json(
                obs_wire.invalid("İstek sınırı denetlenemedi; lütfen tekrar deneyiniz."),
                status=503,
                headers={"Retry-After": str(admission.retry_after)},
            )
        if admission.denial.refusal is Refusal.RATE_LIMITED:
            return _json(
                obs_wire.invalid("İstek sınırı aşıldı; lütfen daha sonra tekrar deneyiniz."),
                status=429,
                headers={"Retry-After": str(admission.retry_after)},
            )
        return Response(AUTH_FAILURE_BODY, status_code=500, media_type=JSON)

    def no_such_method(self) -> Response:
        """Also every other path under an ÖBS base path in any case (``routing.G2GDispatch``)."""
        return _json(obs_wire.invalid(NO_SUCH_METHOD_MESSAGE), status=404)

    def wrong_verb(self, allow: str) -> Response:
        """A verb other than ``GET`` on a method: the envelope, as every ÖBS answer (§5.1)."""
        return _json(obs_wire.invalid(WRONG_VERB_MESSAGE), status=405, headers={"Allow": allow})

    def internal_error(self) -> Response:
        return _json(obs_wire.invalid(INTERNAL_ERROR_MESSAGE), status=500)

    def audit_unavailable(self) -> Response:
        return _json(obs_wire.invalid("Denetim kaydı yazılamadı; lütfen tekrar deneyiniz."), 503)
