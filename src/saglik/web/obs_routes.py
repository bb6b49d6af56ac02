"""ÖBS routes: ``GET /services/g2g[/test]/saglik/OBS/<Method>`` (contract §5).

Query parameter names match case-insensitively, as on the original ASP.NET service. Any refusal
by the gateway — wrong credentials, unknown user, no right on the method, address not allowed —
is the document's HTTP 500 with one fixed body, so nothing tells the cases apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import Response

from saglik.domain.methods import UNKNOWN_METHOD
from saglik.domain.obs import AUTH_FAILURE_MESSAGE, InvalidParameterError, Scope
from saglik.services.authn import Principal
from saglik.services.obs import Feed, Found, ObsQueryService
from saglik.store.audit_writer import AuditUnavailableError
from saglik.web import obs_wire
from saglik.web.gateway import NO_SUCH_METHOD, Admission, Denial, Gateway
from saglik.web.routing import G2GService

SERVICE_PATH = "saglik/OBS"

JSON = "application/json; charset=utf-8"
AUTH_FAILURE_BODY = to_json(obs_wire.invalid(AUTH_FAILURE_MESSAGE))

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


class ObsEndpoints:
    def __init__(self, service: ObsQueryService, gateway: Gateway) -> None:
        self._service = service
        self._gateway = gateway
        s = service

        def by_date(feed: Feed) -> Handler:
            def handle(
                env: str, scope: Scope, p: Params
            ) -> tuple[dict[str, Any], str, tuple[str, ...]]:
                pairs = s.deaths_by_date(env, scope, p.get("tarih"), p.get("ilkodu"), feed)
                return obs_wire.success(obs_wire.form_list(pairs)), "ok", ()

            return handle

        def by_tc(full: bool) -> Handler:
            render = obs_wire.full if full else obs_wire.basic
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
            render = obs_wire.full if full else obs_wire.basic
            return lambda env, scope, p: _found(
                s.by_form(env, scope, p.get("formno"), p.get("referansno"), full=full), render
            )

        def by_passport(full: bool) -> Handler:
            render = obs_wire.full if full else obs_wire.basic
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

    def service(self) -> G2GService:
        return G2GService(SERVICE_PATH, "GET", self.handle)

    async def handle(self, request: Request, env: str, method_in_path: str) -> Response:
        started = time.perf_counter()
        method = self._canonical.get(method_in_path.lower(), "")
        handler = self._handlers.get(method)
        client_ip = self._gateway.client_ip(request)
        refs: tuple[str, ...] = ()
        if handler is None:  # audited too, without the name asked (it is the caller's text)
            method, admission = UNKNOWN_METHOD, Admission(None)
            response = _json(obs_wire.invalid("Böyle bir servis metodu yok."), status=404)
            outcome = NO_SUCH_METHOD
        else:
            admission = await self._gateway.admit(request, env, method, client_ip)
            response, outcome, refs = self._answer(request, env, handler, admission)
        try:
            await self._gateway.audit(
                admission=admission,
                env=env,
                service="obs",
                method=method,
                status=response.status_code,
                outcome=outcome,
                started=started,
                client_ip=client_ip,
                subject_refs=refs,
            )
        except AuditUnavailableError:
            return _json(
                obs_wire.invalid("Denetim kaydı yazılamadı; lütfen tekrar deneyiniz."), 503
            )
        return response

    def _answer(
        self, request: Request, env: str, handler: Handler, admission: Admission
    ) -> tuple[Response, str, tuple[str, ...]]:
        """The answer to an admitted call or the refusal of a denied one, its outcome and refs."""
        if admission.denial is Denial.RATE_LIMITED:
            response = _json(
                obs_wire.invalid("İstek sınırı aşıldı; lütfen daha sonra tekrar deneyiniz."),
                status=429,
                headers={"Retry-After": str(admission.retry_after)},
            )
            return response, admission.denial.value, ()
        if admission.denial is not None:
            response = Response(AUTH_FAILURE_BODY, status_code=500, media_type=JSON)
            return response, admission.denial.value, ()
        assert admission.principal is not None
        # ASP.NET binds parameters case-insensitively; the first value of a repeated one wins
        params: dict[str, str] = {}
        for key, value in request.query_params.multi_items():
            params.setdefault(key.lower(), value)
        try:
            payload, outcome, refs = handler(env, _scope(admission.principal), params)
        except InvalidParameterError as exc:
            return _json(obs_wire.invalid(str(exc))), "invalid", ()
        return _json(payload), outcome, refs
