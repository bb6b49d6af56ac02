"""Persons and HES codes: what ``saglik hes`` and the operator API's HES data routes do, as pages.

An identity number or a code never travels in a URL (the access log and the browser's history
keep URLs): the lookup is a POST, every action on the record posts the person's environment and
identity number back as hidden fields, and each answer is the record page rendered from that POST,
never a redirect. The record is read through ``HesDataService.person``, which logs each showing of
it as a read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from saglik.domain.errors import Conflict, InvalidInput
from saglik.domain.tckn import is_valid_tckn
from saglik.services.hes import DEFAULT_VALIDITY, PCR_NEGATIVE, RISK_KINDS, PersonView
from saglik.services.root import OperatorServices
from saglik.web.console import i18n
from saglik.web.console.pages import Console, Refused, checked, moment, number, text

_ = i18n.N_

ENVS = ("live", "test")
MAX_VALID_DAYS = 36_500
MAX_DOSE = 99
"""The operator API's bounds on the same fields (``CodeIn``, ``VaccinationIn``): a typing slip
is refused before the store is asked, on every backend alike."""
REFUSALS = (
    _("valid_days must be a whole number"),
    _("dose must be a whole number"),
    _("no person with that identity number in this environment"),
    _("first and last name must not be blank"),
    _("validity reaches the no-expiry date: issue it with no expiry"),
    _("a code is 10 characters A-Z 0-9"),
    _("no such HES code in this environment"),
    _("the code is cancelled already"),
    _("risk kind must be one of case, contact"),
    _("vaccine name must be 1-100 characters"),
)
"""The refusals of ``pages.number`` and of ``HesDataService`` these pages meet, as worded there:
shown in the operator's language."""
SEARCH = "/console/persons"


@dataclass(frozen=True, slots=True)
class Key:
    """Whose record a form is about: what every form of the record page posts back, hidden."""

    env: str
    identity_number: str


@dataclass(frozen=True, slots=True)
class Issued:
    code: str
    expires_at: datetime | None
    """None: the code never expires."""


@dataclass(frozen=True, slots=True)
class Done:
    """What an action tells the operator: an English message (translated when shown)."""

    notice: str
    status: int = 200
    issued: Issued | None = None


Action = Callable[[OperatorServices, Key, FormData], Done]


def person_key(form: FormData) -> Key:
    """The environment and identity number a form names; a malformed one is refused (422), as
    the service refuses it when a person is added, rather than looked up and not found."""
    env = text(form, "env")
    if env not in ENVS:
        raise InvalidInput(_("the environment must be live or test"))
    identity_number = text(form, "identity_number")
    if not is_valid_tckn(identity_number):
        raise InvalidInput(_("not a valid T.C. Kimlik No (11 digits with check digits)"))
    return Key(env, identity_number)


def whole(form: FormData, name: str, high: int, beyond: str) -> int | None:
    """An optional whole number from 1 to ``high``; ``beyond`` is the refusal of any other."""
    value = number(form, name)
    if value is not None and not 1 <= value <= high:
        raise InvalidInput(beyond)
    return value


# --- the actions: one service call each, and what the operator is told ----------------------------


def set_consent(services: OperatorServices, key: Key, form: FormData) -> Done:
    services.hes.set_consent(
        key.env,
        key.identity_number,
        vaccination=checked(form, "vaccination"),
        immunity=checked(form, "immunity"),
        test=checked(form, "test"),
    )
    return Done(_("Consent saved."))


def issue_code(services: OperatorServices, key: Key, form: FormData) -> Done:
    no_expiry = checked(form, "no_expiry")
    days = whole(form, "valid_days", MAX_VALID_DAYS, _("the validity must be 1 to 36500 days"))
    if no_expiry and days is not None:
        raise InvalidInput(_("give a validity in days or no expiry, not both"))
    valid_for = None if no_expiry else (DEFAULT_VALIDITY if days is None else timedelta(days=days))
    code, expires = services.hes.issue_code(key.env, key.identity_number, valid_for=valid_for)
    return Done(_("HES code issued."), 201, Issued(code, None if no_expiry else expires))


def cancel_code(services: OperatorServices, key: Key, form: FormData) -> Done:
    services.hes.cancel_code(key.env, text(form, "code"))
    return Done(_("HES code cancelled: it now answers “not found” to every query."))


def open_risk(services: OperatorServices, key: Key, form: FormData) -> Done:
    services.hes.open_risk(key.env, key.identity_number, text(form, "kind"), moment(form, "at"))
    return Done(_("Risk period opened."), 201)


def close_risk(services: OperatorServices, key: Key, form: FormData) -> Done:
    if not services.hes.close_risk(key.env, key.identity_number, moment(form, "at")):
        raise Conflict(_("the person has no open risk period"))
    return Done(_("Open risk periods closed."))


def vaccinate(services: OperatorServices, key: Key, form: FormData) -> Done:
    dose = whole(form, "dose", MAX_DOSE, _("the dose number must be 1 to 99"))
    if dose is None:
        raise InvalidInput(_("the dose number is required"))
    at = moment(form, "at")
    services.hes.vaccinate(key.env, key.identity_number, dose, text(form, "vaccine"), at)
    return Done(_("Vaccination recorded."), 201)


def record_infection(services: OperatorServices, key: Key, form: FormData) -> Done:
    services.hes.record_infection(key.env, key.identity_number, moment(form, "at"))
    return Done(_("Infection recorded."), 201)


def record_pcr(services: OperatorServices, key: Key, form: FormData) -> Done:
    result = text(form, "result")
    if result not in {"negative", "positive"}:
        raise InvalidInput(_("choose the PCR result: negative or positive"))
    at = moment(form, "at")
    services.hes.record_pcr(key.env, key.identity_number, result == "negative", at)
    return Done(_("PCR result recorded."), 201)


ACTIONS: Mapping[str, Action] = {
    "/persons/consent": set_consent,
    "/persons/codes": issue_code,
    "/persons/codes/cancel": cancel_code,
    "/persons/risk-periods": open_risk,
    "/persons/risk-periods/close": close_risk,
    "/persons/vaccinations": vaccinate,
    "/persons/infections": record_infection,
    "/persons/pcr-results": record_pcr,
}


def entered(form: FormData | None) -> dict[str, str]:
    """What the operator typed, to fill the search page's forms again after a refusal."""
    names = ("env", "identity_number", "first_name", "last_name")
    return {name: text(form, name) if form is not None else "" for name in names}


def routes(console: Console) -> list[BaseRoute]:
    def search(
        request: Request,
        form: FormData | None = None,
        *,
        status: int = 200,
        error: str | None = None,
    ) -> Response:
        context = {"entered": entered(form), "error": error}
        return console.render(request, "hes/search.html", context, status=status)

    def record(
        request: Request, env: str, person: PersonView, *, status: int, **context: Any
    ) -> Response:
        return console.render(
            request,
            "hes/person.html",
            {
                "env": env,
                "person": person,
                "pcr_negative": PCR_NEGATIVE,
                "risk_kinds": RISK_KINDS,
                "open_risk": any(r["ended_at"] is None for r in person.events["risk_periods"]),
                **context,
            },
            status=status,
        )

    async def respond(
        request: Request,
        services: OperatorServices,
        form: FormData,
        outcome: Done | Refused | None = None,
    ) -> Response:
        """The record of the person the form names, with what became of the action; when the
        record cannot be shown (a malformed number, nobody by it), the search page with why."""
        hes = services.hes
        done = outcome if isinstance(outcome, Done) else None
        refused = outcome if isinstance(outcome, Refused) else None

        def read() -> tuple[Key, PersonView]:
            key = person_key(form)
            return key, hes.person(key.env, key.identity_number)

        found = await console.attempt(read)
        if isinstance(found, Refused):
            shown = refused or found
            return search(request, form, status=shown.status, error=shown.message)
        key, person = found
        return record(
            request,
            key.env,
            person,
            status=refused.status if refused else done.status if done else 200,
            error=refused.message if refused else None,
            notice=done.notice if done else None,
            issued=done.issued if done else None,
        )

    def act(do: Action) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            form = await console.form(request)
            services = console.services(request)
            outcome = await console.attempt(lambda: do(services, person_key(form), form))
            return await respond(request, services, form, outcome)

        return handle

    async def search_page(request: Request) -> Response:
        return search(request)

    async def find(request: Request) -> Response:
        return await respond(request, console.services(request), await console.form(request))

    async def add(request: Request) -> Response:
        """A refused addition stays on the search page, whether or not the person exists."""
        form = await console.form(request)
        services = console.services(request)

        def work() -> Done:
            key = person_key(form)
            new = services.hes.add_person(
                key.env, key.identity_number, text(form, "first_name"), text(form, "last_name")
            )
            if new:
                return Done(_("Person added."), 201)
            return Done(_("The person was recorded already; the names are saved as given."))

        outcome = await console.attempt(work)
        if isinstance(outcome, Refused):
            return search(request, form, status=outcome.status, error=outcome.message)
        return await respond(request, services, form, outcome)

    async def to_search(_request: Request) -> Response:
        """A record is only ever the answer to a POST: asked for by URL (a reload of the
        address, the language switch), the operator is sent to look the person up again."""
        return RedirectResponse(SEARCH, status_code=303)

    return [
        Route("/persons", search_page, methods=["GET"]),
        Route("/persons", add, methods=["POST"]),
        Route("/persons/find", find, methods=["POST"]),
        *(Route(path, act(do), methods=["POST"]) for path, do in ACTIONS.items()),
        *(Route(path, to_search, methods=["GET"]) for path in ("/persons/find", *ACTIONS)),
    ]
