"""HES data entry (``/persons``, ``/hes-codes``, health events): what ``saglik hes`` does, over
HTTP. Identity numbers and codes travel in bodies and query strings only."""

from __future__ import annotations

from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saglik.domain.errors import Conflict
from saglik.services.hes import DEFAULT_VALIDITY
from saglik.web.admin import reading
from saglik.web.admin.context import ServiceFactory, in_thread
from saglik.web.admin.errors import endpoint
from saglik.web.admin.models import (
    AtIn,
    CancelIn,
    CodeIn,
    ConsentIn,
    PcrIn,
    PersonIn,
    PersonQuery,
    RiskOpenIn,
    VaccinationIn,
)
from saglik.web.admin.routing import resource
from saglik.web.admin.views import (
    CancelledCode,
    CodeList,
    CodeOut,
    InfectionOut,
    IssuedCode,
    PcrOut,
    PersonOut,
    RiskClosed,
    RiskPeriodOut,
    VaccinationOut,
    ok,
)


class NoOpenRiskError(Conflict):
    """Closing what is not open: the person exists, the state does not allow it (409)."""


def routes(services: ServiceFactory) -> list[Route]:
    @endpoint
    async def put_person(request: Request) -> Response:
        data = await reading.body(request, PersonIn)
        hes = services.of(request).hes

        def work() -> tuple[bool, PersonOut]:
            created = hes.add_person(
                data.env, data.identity_number, data.first_name, data.last_name
            )
            return created, PersonOut.of(data.env, hes.person(data.env, data.identity_number))

        created, person = await in_thread(work)
        return ok(person, 201 if created else 200)

    @endpoint
    async def get_person(request: Request) -> Response:
        key = reading.query(request, PersonQuery)
        hes = services.of(request).hes
        person = await in_thread(lambda: hes.person(key.env, key.identity_number))
        return ok(PersonOut.of(key.env, person))

    @endpoint
    async def put_consent(request: Request) -> Response:
        data = await reading.body(request, ConsentIn)
        hes = services.of(request).hes

        def work() -> PersonOut:
            hes.set_consent(
                data.env,
                data.identity_number,
                vaccination=data.vaccination,
                immunity=data.immunity,
                test=data.test,
            )
            return PersonOut.of(data.env, hes.person(data.env, data.identity_number))

        return ok(await in_thread(work))

    @endpoint
    async def issue_code(request: Request) -> Response:
        data = await reading.body(request, CodeIn)
        hes = services.of(request).hes
        valid_for = (
            None
            if data.no_expiry
            else (DEFAULT_VALIDITY if data.valid_days is None else timedelta(days=data.valid_days))
        )
        code, expires = await in_thread(
            lambda: hes.issue_code(data.env, data.identity_number, valid_for=valid_for)
        )
        return ok(IssuedCode(code=code, expires_at=None if data.no_expiry else expires), 201)

    @endpoint
    async def list_codes(request: Request) -> Response:
        key = reading.query(request, PersonQuery)
        hes = services.of(request).hes
        codes = await in_thread(lambda: hes.codes(key.env, key.identity_number))
        return ok(CodeList(codes=[CodeOut.of(c) for c in codes]))

    @endpoint
    async def cancel_code(request: Request) -> Response:
        data = await reading.body(request, CancelIn)
        hes = services.of(request).hes
        await in_thread(lambda: hes.cancel_code(data.env, data.code))
        return ok(CancelledCode(code=data.code.upper(), status="cancelled"))

    @endpoint
    async def open_risk(request: Request) -> Response:
        data = await reading.body(request, RiskOpenIn)
        svc = services.of(request)
        at = data.at or svc.clock.now()
        await in_thread(lambda: svc.hes.open_risk(data.env, data.identity_number, data.kind, at))
        return ok(RiskPeriodOut(kind=data.kind, started_at=at, ended_at=None), 201)

    @endpoint
    async def close_risk(request: Request) -> Response:
        data = await reading.body(request, AtIn)
        svc = services.of(request)
        at = data.at or svc.clock.now()
        closed = await in_thread(lambda: svc.hes.close_risk(data.env, data.identity_number, at))
        if not closed:
            raise NoOpenRiskError("the person has no open risk period")
        return ok(RiskClosed(closed=closed, ended_at=at))

    @endpoint
    async def vaccinate(request: Request) -> Response:
        data = await reading.body(request, VaccinationIn)
        svc = services.of(request)
        at = data.at or svc.clock.now()
        await in_thread(
            lambda: svc.hes.vaccinate(data.env, data.identity_number, data.dose, data.vaccine, at)
        )
        vaccine = " ".join(data.vaccine.split())  # as the service stores it
        return ok(VaccinationOut(dose=data.dose, vaccine=vaccine, administered_at=at), 201)

    @endpoint
    async def infection(request: Request) -> Response:
        data = await reading.body(request, AtIn)
        svc = services.of(request)
        at = data.at or svc.clock.now()
        await in_thread(lambda: svc.hes.record_infection(data.env, data.identity_number, at))
        return ok(InfectionOut(diagnosed_at=at), 201)

    @endpoint
    async def pcr(request: Request) -> Response:
        data = await reading.body(request, PcrIn)
        svc = services.of(request)
        at = data.at or svc.clock.now()
        await in_thread(
            lambda: svc.hes.record_pcr(data.env, data.identity_number, data.negative, at)
        )
        return ok(PcrOut(negative=data.negative, sampled_at=at), 201)

    return [
        resource("/persons", GET=get_person, PUT=put_person),
        resource("/persons/consent", PUT=put_consent),
        resource("/hes-codes", GET=list_codes, POST=issue_code),
        resource("/hes-codes/cancel", POST=cancel_code),
        resource("/risk-periods", POST=open_risk),
        resource("/risk-periods/close", POST=close_risk),
        resource("/vaccinations", POST=vaccinate),
        resource("/infections", POST=infection),
        resource("/pcr-results", POST=pcr),
    ]
