"""Everything the operator API offers, the console offers: each operator API operation is mapped
to the console route that does the same, and both sides are read from the app's own routers, so
an operation added to the API without its page (or a page removed) fails here."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import Mount, Route

from saglik.config import Settings
from saglik.services.bootstrap import ensure_store
from saglik.store.engine import make_engine
from saglik.web.app import create_app

API_TO_CONSOLE = {
    ("GET", "/institutions"): ("GET", "/users"),
    ("POST", "/institutions"): ("POST", "/institutions"),
    ("GET", "/users"): ("GET", "/users"),
    ("POST", "/users"): ("POST", "/users"),
    ("GET", "/users/{env}/{username}"): ("GET", "/users/{env}/{username}"),
    ("PATCH", "/users/{env}/{username}"): ("POST", "/users/{env}/{username}"),
    ("POST", "/users/{env}/{username}/password"): ("POST", "/users/{env}/{username}/password"),
    ("GET", "/persons"): ("POST", "/persons/find"),
    ("PUT", "/persons"): ("POST", "/persons"),
    ("PUT", "/persons/consent"): ("POST", "/persons/consent"),
    ("GET", "/hes-codes"): ("POST", "/persons/find"),
    ("POST", "/hes-codes"): ("POST", "/persons/codes"),
    ("POST", "/hes-codes/cancel"): ("POST", "/persons/codes/cancel"),
    ("POST", "/risk-periods"): ("POST", "/persons/risk-periods"),
    ("POST", "/risk-periods/close"): ("POST", "/persons/risk-periods/close"),
    ("POST", "/vaccinations"): ("POST", "/persons/vaccinations"),
    ("POST", "/infections"): ("POST", "/persons/infections"),
    ("POST", "/pcr-results"): ("POST", "/persons/pcr-results"),
    ("POST", "/death-forms"): ("POST", "/death-forms/new"),
    ("GET", "/death-forms/{form_no}"): ("GET", "/death-forms/{form_no}"),
    ("PUT", "/death-forms/{form_no}"): ("POST", "/death-forms/{form_no}/correct"),
    ("POST", "/death-forms/{form_no}/approve"): ("POST", "/death-forms/{form_no}/approve"),
    ("POST", "/death-forms/{form_no}/return"): ("POST", "/death-forms/{form_no}/return"),
    ("GET", "/audit/calls"): ("GET", "/audit/calls"),
    ("GET", "/audit/subject"): ("POST", "/audit/subject"),
    ("GET", "/audit/changes"): ("GET", "/audit/changes"),
}
"""(method, path under /admin/api) → (method, path under /console). Reads by identity number or
code are POSTs in the console: no such value may be in a URL."""

CONSOLE_ONLY = {
    ("GET", "/tokens"),
    ("POST", "/tokens"),
    ("POST", "/tokens/revoke"),
    ("POST", "/users/unlock"),
    ("POST", "/users/{env}/{username}/unlock"),
}
"""What only the CLI did before the console: operator tokens (create, list, revoke) and
unlocking throttled users and addresses (``saglik user unlock``)."""


def _operations(mount: Mount) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in mount.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


def _mounts(tmp_path: Path) -> dict[str, Mount]:
    engine = make_engine(f"sqlite:///{tmp_path}/saglik.db")
    ensure_store(engine)
    app = create_app(Settings(database_url="unused"), engine=engine)
    mounts = {route.path: route for route in app.routes if isinstance(route, Mount)}
    engine.dispose()
    return mounts


def test_every_operator_api_operation_has_its_console_page(tmp_path: Path) -> None:
    mounts = _mounts(tmp_path)
    api = _operations(mounts["/admin/api"])
    console = _operations(mounts["/console"])
    assert api == set(API_TO_CONSOLE), "map each operator API operation to its page"
    missing = {page for page in API_TO_CONSOLE.values() if page not in console}
    assert not missing, f"console pages that do not exist: {missing}"
    assert console >= CONSOLE_ONLY
