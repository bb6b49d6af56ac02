"""The audit trail as an operator reads it instead of ``saglik audit``: G2G calls, the data
subject's "who queried this person, and when", and the operator change log.

The calls and the change log are filtered by nothing personal, so their filters travel in the
query string (a page can be bookmarked). The subject's view is asked with a T.C. Kimlik No or a
HES code: it is a POST answered with the page itself, so the value is never in a URL; the
service logs every such view as a read of the person's data."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from saglik.domain.methods import HES_METHODS, OBS_METHODS, UNKNOWN_METHOD
from saglik.services.audit_queries import OUTCOME_GROUPS, SubjectView
from saglik.web.console import i18n
from saglik.web.console.pages import Console, Refused, moment, number, optional, text

CALLS_FILTERS = ("institution", "method", "env", "outcome", "since", "until", "limit")
CHANGES_FILTERS = ("entity", "since", "until", "limit")
SUBJECT_FIELDS = ("identity_number", "code", "since", "until")

KNOWN_ENTITIES = (
    "person",
    "hes_code",
    "consent",
    "risk",
    "death_form",
    "institution",
    "service_user",
    "auth_failures",
    "operator_token",
    "console_session",
    "subject_view",
    "moi_report",
    "audit_key",
    "import",
    "demo",
)
"""Suggested in the change log's entity field (a ``datalist``): the field takes any text, as the
service does, so an entity missing here is still found by typing it."""


_ = i18n.N_

OUTCOME_LABELS = {
    "ok": _("Answered"),
    "not-found": _("Not found (ÖBS)"),
    "hescodenotfound": _("HES code not found"),
    "hescodehasbeenexpired": _("HES code expired"),
    "invalid": _("Invalid parameter (ÖBS)"),
    "validation": _("Invalid field (HES)"),
    "bad-json": _("Body is not JSON"),
    "bad-media-type": _("Wrong content type"),
    "too-large": _("Body too large"),
    "no-such-method": _("No such method"),
    "unauthenticated": _("No credentials"),
    "wrong-password": _("Wrong password"),
    "unknown-user": _("Unknown user"),
    "inactive": _("Inactive user"),
    "ip-not-allowed": _("Address not allowed"),
    "method-not-granted": _("Method not granted"),
    "throttled": _("Locked after wrong passwords"),
    "rate-limited": _("Over the rate limit"),
    "rate-limits-unavailable": _("Rate limit could not be checked"),
}
"""What each recorded outcome means, for the filter's options (the table shows the value)."""

GROUP_LABELS = {
    "answered": _("Answered: found or not"),
    "rejected": _("Rejected: not a valid request"),
    "refused": _("Refused by the gateway"),
}

REFUSALS = (
    _("until must be after since"),
    _("limit must be between 1 and 10000"),
    _("limit must be a whole number"),
    _("environment must be one of live, test"),
    _("give exactly one of an identity number and a code"),
    _("not a valid T.C. Kimlik No"),
    _("not a HES code (10 letters and digits)"),
)
"""The refusals an operator meets on these pages, as the services word them: shown in the
operator's language (the rest, naming a value typed into a URL, stay as written)."""

Options = list[tuple[str, list[tuple[str, str]]]]
"""``<optgroup>``s: (the group's message, [(value, message)])."""

METHOD_GROUPS: Options = [
    (_("HES methods"), [(m, m) for m in HES_METHODS]),
    (_("ÖBS methods"), [(m, m) for m in OBS_METHODS]),
    (_("Other"), [(UNKNOWN_METHOD, _("Unknown method"))]),
]

OUTCOME_GROUPS_SHOWN: Options = [
    (GROUP_LABELS[group.key], [(o, OUTCOME_LABELS.get(o, o)) for o in group.outcomes])
    for group in OUTCOME_GROUPS
]


@dataclass(frozen=True, slots=True)
class Querier:
    """An institution that queried the person, with its latest call among those shown."""

    institution: str
    last: datetime
    calls: int


def queriers(view: SubjectView) -> list[Querier]:
    """``view.institutions`` (most recent caller first) with when each last called and how
    many of the calls shown are its own."""
    found: list[Querier] = []
    for name in view.institutions:
        own = [c for c in view.calls if c.institution == name]
        found.append(Querier(name, own[0].occurred_at, len(own)))
    return found


def limit(form: FormData, default: int) -> int:
    found = number(form, "limit")
    return default if found is None else found


def pretty(value: str | None) -> str:
    """A change's before/after (the log's JSON) indented for reading."""
    if value is None:
        return "—"
    try:
        return json.dumps(json.loads(value), ensure_ascii=False, indent=2, sort_keys=True)
    except ValueError:
        return value


def query_of(request: Request) -> FormData:
    """The query string read like a form, so that the form helpers read GET filters too."""
    items: list[tuple[str, str | UploadFile]] = list(request.query_params.multi_items())
    return FormData(items)


def echo(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    """The fields as sent, to show them again in the form."""
    return {name: text(form, name) for name in names}


def routes(console: Console) -> list[BaseRoute]:
    async def listing(
        request: Request,
        template: str,
        work: Callable[[], list[Any]],
        context: Mapping[str, Any],
    ) -> Response:
        """A filtered list: the rows, or the refusal with the filters as sent."""
        found = await console.attempt(work)
        if isinstance(found, Refused):
            answer = {"rows": [], "error": found.message}
            return console.render(request, template, {**context, **answer}, status=found.status)
        return console.render(request, template, {**context, "rows": found, "error": None})

    async def institution_names(request: Request) -> list[str]:
        accounts = console.services(request).accounts
        found = await console.attempt(accounts.list_institutions)
        return [] if isinstance(found, Refused) else [row[1] for row in found]

    async def calls(request: Request) -> Response:
        query = query_of(request)
        audit = console.services(request).audit
        names = await institution_names(request)
        return await listing(
            request,
            "audit/calls.html",
            lambda: audit.calls(
                institution=optional(query, "institution"),
                method=optional(query, "method"),
                env=optional(query, "env"),
                outcome=optional(query, "outcome"),
                since=moment(query, "since"),
                until=moment(query, "until"),
                limit=limit(query, 100),
            ),
            {
                "filters": echo(query, CALLS_FILTERS),
                "institutions": [(n, n) for n in names],
                "methods": METHOD_GROUPS,
                "outcomes": OUTCOME_GROUPS_SHOWN,
            },
        )

    async def changes(request: Request) -> Response:
        query = query_of(request)
        audit = console.services(request).audit
        return await listing(
            request,
            "audit/changes.html",
            lambda: audit.changes(
                entity=optional(query, "entity"),
                since=moment(query, "since"),
                until=moment(query, "until"),
                limit=limit(query, 100),
            ),
            {"filters": echo(query, CHANGES_FILTERS), "entities": KNOWN_ENTITIES, "pretty": pretty},
        )

    def subject_page(
        request: Request, form: FormData, view: SubjectView | None, status: int, error: str | None
    ) -> Response:
        return console.render(
            request,
            "audit/subject.html",
            {
                "fields": echo(form, SUBJECT_FIELDS),
                "view": view,
                "queriers": [] if view is None else queriers(view),
                "by_code": bool(text(form, "code")),
                "pretty": pretty,
                "error": error,
            },
            status=status,
        )

    async def subject_form(request: Request) -> Response:
        return subject_page(request, FormData(), None, 200, None)

    async def subject(request: Request) -> Response:
        form = await console.form(request)
        audit = console.services(request).audit
        view = await console.attempt(
            lambda: audit.subject(
                identity_number=optional(form, "identity_number"),
                code=optional(form, "code"),
                since=moment(form, "since"),
                until=moment(form, "until"),
            )
        )
        if isinstance(view, Refused):
            return subject_page(request, form, None, view.status, view.message)
        return subject_page(request, form, view, 200, None)

    return [
        Route("/audit/calls", calls, methods=["GET"]),
        Route("/audit/subject", subject_form, methods=["GET"]),
        Route("/audit/subject", subject, methods=["POST"]),
        Route("/audit/changes", changes, methods=["GET"]),
    ]
