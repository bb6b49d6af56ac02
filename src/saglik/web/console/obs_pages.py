"""Death forms (the ÖBS registry): open, register, correct, approve and return — what
``saglik obs`` and ``/admin/api/death-forms`` do. ``ObsRegistryService`` holds every rule; this
module turns the service's answers into pages (the form itself: ``death_form_drafts.py``).

A form is named by its FormNo in the path and its ReferansNo and environment in the query: form
identifiers, never the person's. Refusals are listed field by field, naming the field and never
the value sent (the form itself keeps what was typed, for the operator to fix)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from saglik.data.tables import obs_tables
from saglik.domain.errors import InvalidInput
from saglik.domain.methods import ENV_RULE, ENVIRONMENTS, check_env
from saglik.services.obs import (
    APPROVED,
    RETURNED,
    ObsRegistryService,
    StoredForm,
    UnknownFormError,
)
from saglik.services.places import Places
from saglik.web.console.death_form_drafts import (
    LABELS,
    PART_ONE,
    Draft,
    Problem,
    blank_draft,
    mentioned,
    parse_draft,
    posted_draft,
    stored_draft,
)
from saglik.web.console.i18n import N_
from saglik.web.console.pages import Console, Refused, whole

ACTIONS = {
    "registered": N_("Registered"),
    "corrected": N_("Corrected"),
    "approved": N_("Approved"),
    "returned": N_("Returned"),
}
"""Statuses and history actions, as the operator reads them."""
ENV_NAMES = {"live": N_("Live"), "test": N_("Test")}


@dataclass(frozen=True, slots=True)
class FormKey:
    env: str
    form_no: str
    referans_no: str

    @staticmethod
    def parse(env: str, form_no: str, referans_no: str) -> FormKey:
        """Refuses what names no form, as the operator API does, before the store is asked."""
        check_env(env)
        if not referans_no:
            raise InvalidInput("a form is opened with its FormNo and its ReferansNo")
        valid_no = form_no.isascii() and form_no.isdigit() and len(form_no) <= 20
        valid_ref = referans_no.isascii() and referans_no.isalnum() and len(referans_no) <= 20
        if not (valid_no and valid_ref):
            raise UnknownFormError("no form with that FormNo and ReferansNo")
        return FormKey(env, form_no, referans_no.upper())

    def url(self, action: str = "") -> str:
        query = urlencode({"env": self.env, "ref": self.referans_no})
        return f"/console/death-forms/{self.form_no}{'/' + action if action else ''}?{query}"


def _key_of(request: Request) -> FormKey:
    query = request.query_params
    return FormKey.parse(
        query.get("env", ""), str(request.path_params["form_no"]), query.get("ref", "").strip()
    )


# --- what the pages show ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FormView:
    """A stored form with the names of its places (province/district), as the page shows it."""

    key: FormKey
    stored: StoredForm
    places: dict[str, str]
    """``death`` and ``residence``: "İzmir / Konak"."""


def _place_name(places: Places, province: int, district: int | None) -> str:
    names = dict(Places.provinces())
    found = dict(places.districts(province)) if district is not None else {}
    district_name = found.get(district, str(district)) if district is not None else None
    return " / ".join(n for n in (names.get(province, str(province)), district_name) if n)


def _view(obs: ObsRegistryService, places: Places, key: FormKey) -> FormView:
    """Reads the form (the service logs the read) and names its places."""
    stored = obs.form(key.env, key.form_no, key.referans_no)
    record = stored.record
    return FormView(
        key,
        stored,
        {
            "death": _place_name(places, record.death_place.province, record.death_place.district),
            "residence": _place_name(places, record.residence.province, record.residence.district),
        },
    )


def _options(table: str) -> list[tuple[str, str]]:
    return [(str(code), name) for code, name in obs_tables()[table].items()]


def _choices() -> dict[str, list[tuple[str, str]]]:
    """The selects' options: the ÖBS code tables, by their Turkish names."""
    return {
        "sex": _options("Cinsiyet"),
        "place_of_death_type": _options("OlumYeri"),
        "manner": _options("OlumSekli"),
        "maternal_status": _options("KadinOlumuNedeni"),
    }


def _marker(invalid: set[str | None]) -> Callable[[str], str]:
    """The attribute a control to fix carries (plain text, joined to a macro's ``attrs``)."""
    return lambda name: 'aria-invalid="true"' if name in invalid else ""


def _common(icd_title: Callable[[str], str | None]) -> dict[str, Any]:
    """``icd_title`` is the composition root's (``IcdNames.name``): the name an ÖBS answer's
    ``IcdAdi`` carries."""
    return {
        "labels": LABELS,
        "actions": ACTIONS,
        "env_names": ENV_NAMES,
        "tables": obs_tables(),
        "icd_title": icd_title,
    }


Handler = Callable[[Request], Awaitable[Response]]
KeyedHandler = Callable[[Request, FormKey], Awaitable[Response]]


def routes(console: Console) -> list[BaseRoute]:
    places = console.root.places
    icd = console.root.icd_lookup

    async def district_options(plate: str) -> list[tuple[str, str]]:
        """The chosen province's districts, for the district select of a form shown again."""
        chosen = whole(plate, 3)
        if chosen is None:
            return []
        found = await console.attempt(lambda: places.districts(chosen))
        return [(str(code), name) for code, name in found] if isinstance(found, list) else []

    async def editor(
        request: Request,
        draft: Draft,
        *,
        key: FormKey | None = None,
        problems: Sequence[Problem] = (),
        status: int = 200,
    ) -> Response:
        """The form to register (no ``key``) or to correct, as typed so far."""
        return console.render(
            request,
            "obs/form.html",
            {
                **_common(icd.title),
                "draft": draft,
                "values": draft.values,
                "key": key,
                "action": key.url("correct") if key else "/console/death-forms/new",
                "problems": problems,
                "marked": _marker({p.field for p in problems}),
                "choices": _choices(),
                "death_districts": await district_options(draft.values.get("death_province", "")),
                "residence_districts": await district_options(
                    draft.values.get("residence_province", "")
                ),
                "part_one": PART_ONE,
            },
            status=status,
        )

    def opener(
        request: Request, *, status: int = 200, error: str | None = None, **typed: str
    ) -> Response:
        """The lookup page, with what was typed and why it found nothing, if so."""
        return console.render(
            request,
            "obs/open.html",
            {"error": error, "typed": {"form_no": "", "ref": "", "env": "live", **typed}},
            status=status,
        )

    def not_opened(request: Request, refusal: Refused) -> Response:
        query = request.query_params
        return opener(
            request,
            status=refusal.status,
            error=refusal.message,
            form_no=str(request.path_params.get("form_no", ""))[:20],
            ref=query.get("ref", "")[:20],
            env=query.get("env", "live"),
        )

    def keyed(work: KeyedHandler) -> Handler:
        """A page of one stored form: refused on the lookup page when its key names none."""

        async def handler(request: Request) -> Response:
            if request.method == "GET" and not request.query_params:
                # the language switch comes back without the query: ask for the rest of the key
                return opener(request, form_no=str(request.path_params["form_no"])[:20])
            key = await console.attempt(lambda: _key_of(request))
            if isinstance(key, Refused):
                return not_opened(request, key)
            return await work(request, key)

        return handler

    async def shown(
        request: Request, key: FormKey, *, status: int = 200, **notice: Any
    ) -> Response:
        """The stored form after ``notice`` (registered, corrected with its changes, a status)."""
        obs = console.services(request).obs
        view = await console.attempt(lambda: _view(obs, places, key))
        if isinstance(view, Refused):
            return not_opened(request, view)
        context = {
            **_common(icd.title),
            "view": view,
            "record": view.stored.record,
            "notice": notice,
        }
        return console.render(request, "obs/show.html", context, status=status)

    async def open_form(request: Request) -> Response:
        """The lookup: with a FormNo sent, on to the form's own page (form identifiers only)."""
        query = request.query_params
        typed = {name: query.get(name, "").strip()[:20] for name in ("form_no", "ref", "env")}
        if not typed["form_no"]:
            return opener(request)
        key = await console.attempt(
            lambda: FormKey.parse(typed["env"], typed["form_no"], typed["ref"])
        )
        if isinstance(key, Refused):
            return opener(request, status=key.status, error=key.message, **typed)
        return RedirectResponse(key.url(), status_code=303)

    async def new_form(request: Request) -> Response:
        return await editor(request, blank_draft())

    async def register(request: Request) -> Response:
        draft = posted_draft(await console.form(request))
        env = draft.values["env"]
        parsed = parse_draft(draft)
        problems = [] if env in ENVIRONMENTS else [Problem("env", LABELS["env"], ENV_RULE)]
        if isinstance(parsed, list) or problems:
            problems += parsed if isinstance(parsed, list) else []
            return await editor(request, draft, problems=problems, status=422)
        obs = console.services(request).obs
        made = await console.attempt(lambda: obs.register(env, parsed))
        if isinstance(made, Refused):
            problems = [mentioned(made.message)]
            return await editor(request, draft, problems=problems, status=made.status)
        return await shown(request, FormKey(env, *made), status=201, registered=True)

    async def show(request: Request, key: FormKey) -> Response:
        return await shown(request, key)

    async def correction(request: Request, key: FormKey) -> Response:
        obs = console.services(request).obs
        stored = await console.attempt(lambda: obs.form(key.env, key.form_no, key.referans_no))
        if isinstance(stored, Refused):
            return not_opened(request, stored)
        return await editor(request, stored_draft(stored.record), key=key)

    async def correct(request: Request, key: FormKey) -> Response:
        draft = posted_draft(await console.form(request))
        parsed = parse_draft(draft)
        if isinstance(parsed, list):
            return await editor(request, draft, key=key, problems=parsed, status=422)
        obs = console.services(request).obs
        changes = await console.attempt(
            lambda: obs.correct(key.env, key.form_no, key.referans_no, parsed)
        )
        if isinstance(changes, Refused):
            problems = [mentioned(changes.message)]
            return await editor(request, draft, key=key, problems=problems, status=changes.status)
        return await shown(request, key, corrected=list(changes))

    def status_change(status: str) -> KeyedHandler:
        async def change(request: Request, key: FormKey) -> Response:
            obs = console.services(request).obs
            done = await console.attempt(
                lambda: obs.set_status(key.env, key.form_no, key.referans_no, status)
            )
            if isinstance(done, Refused):
                return not_opened(request, done)
            return await shown(request, key, status_set=status)

        return change

    async def icd_options(request: Request) -> Response:
        """``<option>``s completing what was typed in a code input (sent as ``q``, or under the
        input's own name by htmx)."""
        query = request.query_params
        typed = query.get("q") or next(
            (v for k, v in query.multi_items() if k.startswith("cause_") and k.endswith("_code")),
            "",
        )
        entries = icd.complete(typed)
        return console.render(request, "obs/_icd_options.html", {"entries": entries})

    return [
        Route("/death-forms", open_form, methods=["GET"]),
        Route("/death-forms/new", new_form, methods=["GET"]),
        Route("/death-forms/new", register, methods=["POST"]),
        Route("/death-forms/{form_no}", keyed(show), methods=["GET"]),
        Route("/death-forms/{form_no}/correct", keyed(correction), methods=["GET"]),
        Route("/death-forms/{form_no}/correct", keyed(correct), methods=["POST"]),
        Route("/death-forms/{form_no}/approve", keyed(status_change(APPROVED)), methods=["POST"]),
        Route("/death-forms/{form_no}/return", keyed(status_change(RETURNED)), methods=["POST"]),
        Route("/icd", icd_options, methods=["GET"]),
    ]
