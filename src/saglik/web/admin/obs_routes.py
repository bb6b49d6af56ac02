"""The death registry (``/death-forms``): what ``saglik obs`` does, over HTTP. A form is named by
its FormNo in the path and its ReferansNo in the query, as the ÖBS lookups need both."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from saglik.services.obs import APPROVED, RETURNED
from saglik.web.admin import reading
from saglik.web.admin.context import ServiceFactory, in_thread
from saglik.web.admin.errors import Handler, endpoint
from saglik.web.admin.models import DeathFormBody, EnvQuery, FormQuery
from saglik.web.admin.routing import resource
from saglik.web.admin.views import (
    Correction,
    FormNumbers,
    FormStatus,
    StoredFormOut,
    ok,
    plain,
)


def routes(services: ServiceFactory) -> list[Route]:
    @endpoint
    async def register(request: Request) -> Response:
        env = reading.query(request, EnvQuery).env
        form = await reading.body(request, DeathFormBody)
        obs = services.of(request).obs
        form_no, referans_no = await in_thread(lambda: obs.register(env, form))
        return ok(FormNumbers(form_no=form_no, referans_no=referans_no), 201)

    @endpoint
    async def get_form(request: Request) -> Response:
        form_no = reading.path_form_no(request)
        key = reading.query(request, FormQuery)
        obs = services.of(request).obs
        stored = await in_thread(lambda: obs.form(key.env, form_no, key.referans_no))
        return ok(StoredFormOut.of(key.env, stored))

    @endpoint
    async def correct(request: Request) -> Response:
        form_no = reading.path_form_no(request)
        key = reading.query(request, FormQuery)
        form = await reading.body(request, DeathFormBody)
        obs = services.of(request).obs
        changes = await in_thread(lambda: obs.correct(key.env, form_no, key.referans_no, form))
        return ok(Correction(changes=plain(changes)))

    def status_change(status: str) -> Handler:
        async def change(request: Request) -> Response:
            form_no = reading.path_form_no(request)
            key = reading.query(request, FormQuery)
            obs = services.of(request).obs
            await in_thread(lambda: obs.set_status(key.env, form_no, key.referans_no, status))
            return ok(FormStatus(form_no=form_no, status=status))

        change.__name__ = f"set_{status}"
        return endpoint(change)

    return [
        resource("/death-forms", POST=register),
        resource("/death-forms/{form_no}", GET=get_form, PUT=correct),
        resource("/death-forms/{form_no}/approve", POST=status_change(APPROVED)),
        resource("/death-forms/{form_no}/return", POST=status_change(RETURNED)),
    ]
