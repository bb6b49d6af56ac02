"""The operator API's OpenAPI document is its contract: the app serves exactly the operations it
describes under ``/admin/api`` and nothing more, the docs page offers it beside HES and ÖBS, and
what the document promises about credentials and errors holds. (The checks every document shares
are in test_openapi_documents.py; live answers are checked against it by every test_admin_* file
through ``tests.web.admin_support.Admin``.)"""

from __future__ import annotations

import re

import pytest
from starlette.routing import Mount, Route

from saglik.config import Settings
from saglik.store import migrate
from saglik.store.engine import make_engine
from saglik.web.app import create_app
from tests.conftest import LiveServer
from tests.web.admin_support import ADMIN, PREFIX

SPEC = ADMIN.doc


@pytest.fixture(scope="module")
def admin_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    path = tmp_path_factory.mktemp("admin-routes") / "saglik.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    try:
        app = create_app(Settings(database_url="unused-engine-injected"), engine=engine)
        mounts = [r for r in app.routes if isinstance(r, Mount) and r.path == PREFIX]
        assert len(mounts) == 1, "the operator API is one mount"
        served: set[tuple[str, str]] = set()
        for route in mounts[0].routes:
            assert isinstance(route, Route), f"unexpected nested {route!r}"
            for verb in route.methods or ():
                if verb != "HEAD":  # Starlette adds HEAD to every GET route
                    served.add((verb, PREFIX + route.path))
        outside = [
            r.path
            for r in app.routes
            if isinstance(r, Route) and r.path.startswith(PREFIX) and r not in mounts
        ]
        assert outside == [], "every operator route is behind the mount's authentication"
        return served
    finally:
        engine.dispose()


def test_every_admin_route_is_in_the_spec_and_every_spec_operation_is_served(
    admin_routes: set[tuple[str, str]],
) -> None:
    assert ADMIN.spec_operations() == admin_routes


def test_every_operation_requires_the_bearer_token() -> None:
    assert SPEC["security"] == [{"bearerAuth": []}]
    assert SPEC["components"]["securitySchemes"]["bearerAuth"] == {
        **SPEC["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    for verb, path in ADMIN.spec_operations():
        operation = SPEC["paths"][path][verb.lower()]
        assert "security" not in operation, f"{verb} {path} must not override the security"
        assert operation["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
    header = SPEC["components"]["responses"]["Unauthorized"]["headers"]["WWW-Authenticate"]
    assert header["required"] is True


def test_no_path_carries_an_identity_number_or_a_code() -> None:
    """The access log writes paths: personal data may travel in query strings and bodies only."""
    for path in SPEC["paths"]:
        params = {p.strip("{}") for p in path.split("/") if p.startswith("{")}
        assert params <= {"env", "username", "form_no"}, path


def test_every_body_operation_documents_the_body_refusals() -> None:
    for verb, path in ADMIN.spec_operations():
        operation = SPEC["paths"][path][verb.lower()]
        if "requestBody" not in operation:
            continue
        assert {"400", "413", "415", "422"} <= set(operation["responses"]), f"{verb} {path}"


def test_the_docs_page_offers_the_admin_spec(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/docs")
        setup = client.get(re.findall(r'<script src="([^"]+)"', page.text)[-1])
        served = client.get("/openapi/admin.json")
    assert page.status_code == 200
    for name in ("hes", "obs", "admin"):
        assert f"/openapi/{name}.json" in setup.text
    assert served.status_code == 200
    assert served.json() == SPEC
