"""The HES OpenAPI document is the contract: it is valid, it describes exactly the routes the app
serves, real answers of the live server conform to it, and the docs pages serve it as written."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.routing import Mount, Route
from swagger_ui_bundle import swagger_ui_path

from saglik.config import Settings
from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS, ENVIRONMENTS, HES_METHODS
from saglik.services.accounts import AccountService
from saglik.services.fixtures import hes_fixtures
from saglik.store import migrate
from saglik.store.engine import make_engine
from saglik.web import hes_wire
from saglik.web.app import create_app
from tests.change_support import change_log
from tests.conftest import Credential, Holder, LiveServer
from tests.web.openapi_support import contract_spec

HES = contract_spec("hes")
SPEC = HES.doc
component_validator = HES.component_validator
assert_conforms = HES.assert_conforms
wire_order = HES.wire_order
resolve = HES.resolve
spec_operations = HES.spec_operations

LIVE = "/services/g2g/saglik/hes/"
TEST = "/services/g2g/test/saglik/hes/"
JSON = {"Content-Type": "application/json"}
DOC_ROUTES = {
    "/",
    "/docs",
    "/docs/",
    "/docs/init.js",
    "/docs/static",
    "/openapi/{name}.json",
    "/openapi/{name}.yaml",
}
"""Routes that serve the documentation itself and are deliberately not part of the HES contract."""
CONSOLE = "/console"
"""The operator console's pages and assets (``web/console``)."""


# ---------------------------------------------------------------------------------------------
# (a) the document itself (the checks every document shares are in test_openapi_documents.py)


def test_the_spec_and_the_server_agree_on_what_is_blank() -> None:
    """Every BMP character alone (and a few astral ones): the spec's non-blank pattern accepts it
    iff the server's request validation does (regex dialects disagree on ``\\s``, so the pattern
    spells the set out; fuzzing found U+0085 the hard way)."""
    spec_ok = component_validator("NonBlankText")
    chars = [chr(i) for i in range(0x10000) if not 0xD800 <= i <= 0xDFFF]
    chars += ["\U0001f600", "\U000e0020"]
    disagreements = []
    for char in chars:
        body = json.dumps({"hes_code": "A1S10001S1", **VISIT, "city": char * 2}).encode()
        _, errors = hes_wire.parse(hes_wire.VISITOR, body)
        if spec_ok.is_valid(char * 2) != (not errors):
            disagreements.append(f"U+{ord(char):04X}")
    assert not disagreements


@pytest.mark.parametrize("code", ["", " ", "\t\n", "\u3000"])
def test_the_spec_accepts_a_blank_code_as_the_server_does(code: str) -> None:
    """A blank ``hes_code`` is a code in an unsuitable format, answered ``hescodenotfound``
    (contract §4.4), not a field error: the request schemas must not call it invalid."""
    assert component_validator("HesCode").is_valid(code)
    assert component_validator("CodeRequest").is_valid({"hes_code": code})
    assert component_validator("BulkRequest").is_valid([{"hes_code": code}])
    assert hes_wire.parse(hes_wire.SINGLE, json.dumps({"hes_code": code}).encode())[1] == []


def test_both_environments_share_one_definition_per_method() -> None:
    for method in HES_METHODS:
        live, test = SPEC["paths"][LIVE + method], SPEC["paths"][TEST + method]
        assert set(live) == {"$ref"}
        assert live == test, f"{method}: live and test must reference the same path item"
        assert "post" in resolve(live["$ref"])


def test_description_lists_every_test_fixture_code() -> None:
    description = SPEC["info"]["description"]
    rows = dict(re.findall(r"^\| ([^|`]+?) \| `([A-Z0-9]{10})` \|", description, flags=re.M))
    assert rows == {fx.category: fx.code for fx in hes_fixtures()}


@pytest.mark.parametrize(
    "term", ["NotNull", "NotBlank", "Size", "DecimalMin", "DecimalMax", "TypeMismatch"]
)
def test_field_error_vocabulary_is_documented(term: str) -> None:
    field_error = SPEC["components"]["schemas"]["FieldError"]["properties"]["message"]
    assert term in field_error["enum"]
    assert f"`{term}`" in SPEC["info"]["description"]


def test_gateway_headers_are_documented() -> None:
    responses = SPEC["components"]["responses"]
    assert responses["Unauthorized"]["headers"]["WWW-Authenticate"]["required"] is True
    assert responses["TooManyRequests"]["headers"]["Retry-After"]["required"] is True


# ---------------------------------------------------------------------------------------------
# (b) the spec and the app's routes describe the same surface


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    path = tmp_path_factory.mktemp("routes") / "saglik.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    try:
        app = create_app(Settings(database_url="unused-engine-injected"), engine=engine)
        served: set[tuple[str, str]] = set()
        for route in app.routes:
            if isinstance(route, Mount | Route) and route.path.startswith(CONSOLE):
                continue  # HTML pages for people, not an API: tests/web/console
            if isinstance(route, Mount):
                if route.path == "/admin/api":
                    continue  # the operator API: admin.yaml, test_admin_openapi_contract.py
                assert route.path in DOC_ROUTES, f"unexpected mount {route.path}"
                continue
            assert isinstance(route, Route)
            if route.path in DOC_ROUTES or "/OBS/" in route.path:
                continue  # ÖBS routes: obs.yaml, checked by test_obs_openapi_contract.py
            paths = [route.path]
            if "{method}" in route.path:
                paths = [route.path.replace("{method}", name) for name in HES_METHODS]
            for verb in route.methods or ():
                if verb != "HEAD":  # Starlette adds HEAD to every GET route
                    served.update((verb, p) for p in paths)
        return served
    finally:
        engine.dispose()


def test_every_served_route_is_in_the_spec_and_every_spec_path_is_served(
    app_routes: set[tuple[str, str]],
) -> None:
    assert spec_operations() == app_routes
    hes = {p for _, p in app_routes if p.startswith("/services/")}
    assert hes == {prefix + m for prefix in (LIVE, TEST) for m in HES_METHODS}


def test_every_spec_path_reaches_its_handler_on_the_live_server(server: LiveServer) -> None:
    """Without credentials a HES path answers 401 (routed to the HES gateway, not 404)."""
    with server.client() as client:
        for verb, path in sorted(spec_operations()):
            response = client.request(
                verb, path, json={"hes_code": "A1S10001S1"} if verb == "POST" else None
            )
            if path.startswith("/services/"):
                assert response.status_code == 401, path
                assert_conforms(path, response, component="HttpProblem")
            else:
                assert response.status_code == 200, path
                assert_conforms(path, response, method=verb)


def test_an_unknown_method_name_is_the_documented_404(server: LiveServer) -> None:
    with server.client() as client:
        response = client.post(
            TEST + "check-nothing", json={"hes_code": "A1S10001S1"}, headers=JSON
        )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert not list(component_validator("HttpProblem").iter_errors(body))
    assert body["message"] == "error.http.404"


# ---------------------------------------------------------------------------------------------
# (c) real answers of the live server conform to the spec


@pytest.fixture(scope="module")
def contract_users(store: Engine, clock: ManualClock) -> dict[str, Credential]:
    """One all-methods user per environment for the whole module (Argon2 hashing is slow)."""
    accounts = AccountService(store, clock, change_log(store, clock))
    institution = f"Kurum {uuid.uuid4().hex[:10]}"
    accounts.add_institution(institution)
    made = {}
    for env in ENVIRONMENTS:
        username = f"contract-{env}-{uuid.uuid4().hex[:8]}"
        issued = accounts.add_user(
            username=username, institution=institution, env=env, methods=ALL_METHODS
        )
        made[env] = Credential(username, issued.password, env)
    return made


@pytest.fixture
def test_user(contract_users: dict[str, Credential], test_fixtures: None) -> Credential:
    """A test-env credential, with the sandbox fixtures applied relative to the clock as it is
    now (``test_fixtures`` in tests/web/conftest.py)."""
    return contract_users["test"]


@pytest.fixture
def live_user(contract_users: dict[str, Credential]) -> Credential:
    return contract_users["live"]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def post(server: LiveServer, cred: Credential | None, path: str, payload: Any) -> httpx.Response:
    with server.client() as client:
        return client.post(path, json=payload, auth=cred.auth if cred else None)


BULK_METHODS = ("check-hes-codes", "check-hes-codes-plus")
VISIT = {"city": "ANKARA", "district": "ÇANKAYA", "explicit_address": "Atatürk Bulvarı No: 1"}


def test_visitor_success(server: LiveServer, test_user: Credential) -> None:
    path = TEST + "check-visitor-hes-code"
    payload = {
        **VISIT,
        "hes_code": "L3S11011S1",
        "location": {"latitude": 39.92, "longitude": 32.85},
    }
    response = post(server, test_user, path, payload)
    assert response.status_code == 200
    body = assert_conforms(path, response, component="HesResult")
    assert list(body) == wire_order("HesResult")
    assert body["current_health_status"] == "RISKLESS"


def test_risky_visitor_success(server: LiveServer, test_user: Credential) -> None:
    path = TEST + "check-visitor-hes-code"
    response = post(server, test_user, path, {**VISIT, "hes_code": "D4S40004S4", "location": None})
    assert response.status_code == 200
    body = assert_conforms(path, response, component="HesResult")
    assert body["current_health_status"] == "RISKY"


def test_employee_success_on_live(
    server: LiveServer, live_user: Credential, make_holder: Callable[..., Holder]
) -> None:
    holder = make_holder(env="live", first_name="Ömer Faruk", last_name="Gökçe")
    path = LIVE + "check-employee-hes-code"
    response = post(server, live_user, path, {"hes_code": holder.code.lower()})
    assert response.status_code == 200
    body = assert_conforms(path, response, component="HesResult")
    assert list(body) == wire_order("HesResult")
    assert body["masked_firstname"] == "ÖM**** FA****"
    assert body["masked_lastname"] == "GÖ****"
    assert body["masked_identity_number"] == "********" + holder.identity_number[-3:]


@pytest.mark.parametrize("code", ["E5S50005S5", "D4S40004S4", "K2S10010S0", "L3S11011S1"])
def test_plus_success(server: LiveServer, test_user: Credential, code: str) -> None:
    path = TEST + "check-hes-code-plus"
    response = post(server, test_user, path, {"hes_code": code})
    assert response.status_code == 200
    body = assert_conforms(path, response, component="HesPlusResult")
    assert list(body) == wire_order("HesPlusResult")
    if code == "E5S50005S5":
        assert body["is_vaccinated"] is True
        assert body["is_immune"] is True
        assert body["last_negative_test_date"] is not None


BULK = [
    {"hes_code": "A1S10001S1"},
    {"hes_code": "d4s40004s4"},
    {"hes_code": "J1S90009S9"},
    {"hes_code": "C4G6-1346-S3"},
    {"hes_code": ""},
]


@pytest.mark.parametrize(
    ("method", "component", "result"),
    [
        ("check-hes-codes", "BulkResult", "HesResult"),
        ("check-hes-codes-plus", "BulkPlusResult", "HesPlusResult"),
    ],
)
def test_bulk_success(
    server: LiveServer, test_user: Credential, method: str, component: str, result: str
) -> None:
    path = TEST + method
    response = post(server, test_user, path, BULK)
    assert response.status_code == 200
    body = assert_conforms(path, response, component=component)
    assert list(body) == ["success_map", "unsuccess_map"]
    assert set(body["success_map"]) == {"A1S10001S1", "d4s40004s4"}, "keyed exactly as sent"
    assert body["unsuccess_map"] == {
        "J1S90009S9": "hescodehasbeenexpired",
        "C4G6-1346-S3": "hescodenotfound",
        "": "hescodenotfound",
    }
    for item in body["success_map"].values():
        assert list(item) == wire_order(result)


@pytest.mark.parametrize(
    ("code", "error_key"),
    [
        ("ZZ9ZZ9ZZ99", "hescodenotfound"),
        ("E5S5-0005-S5", "hescodenotfound"),
        ("", "hescodenotfound"),
        ("   ", "hescodenotfound"),
        ("J1S90009S9", "hescodehasbeenexpired"),
    ],
)
@pytest.mark.parametrize("method", ["check-employee-hes-code", "check-hes-code-plus"])
def test_hes_code_errors(
    server: LiveServer, test_user: Credential, method: str, code: str, error_key: str
) -> None:
    path = TEST + method
    response = post(server, test_user, path, {"hes_code": code})
    assert response.status_code == 400
    body = assert_conforms(path, response, component="HesCodeProblem")
    assert body["errorKey"] == error_key


def test_visitor_not_found(server: LiveServer, test_user: Credential) -> None:
    path = TEST + "check-visitor-hes-code"
    response = post(server, test_user, path, {**VISIT, "hes_code": "ZZ9ZZ9ZZ99"})
    assert response.status_code == 400
    assert (
        assert_conforms(path, response, component="HesCodeProblem")["errorKey"] == "hescodenotfound"
    )


@pytest.mark.parametrize(
    ("method", "payload", "expected"),
    [
        (
            "check-visitor-hes-code",
            {"hes_code": "L3S11011S1", "city": " ", "district": "X", "location": {"latitude": 91}},
            {
                ("city", "NotBlank"),
                ("explicit_address", "NotNull"),
                ("location.latitude", "DecimalMax"),
                ("location.longitude", "NotNull"),
            },
        ),
        ("check-employee-hes-code", {"hes_code": 12345}, {("hes_code", "TypeMismatch")}),
        ("check-hes-code", {"hes_code": None}, {("hes_code", "NotNull")}),
        ("check-hes-code-plus", [], {("body", "TypeMismatch")}),
        ("check-hes-codes", [], {("hes_codes", "Size")}),
        ("check-hes-codes", [{"hes_code": "A1S10001S1"}] * 501, {("hes_codes", "Size")}),
        (
            "check-hes-codes-plus",
            [{}, {"hes_code": ""}, {"hes_code": None}, None],
            {
                ("hes_codes[0].hes_code", "NotNull"),
                ("hes_codes[2].hes_code", "NotNull"),
                ("hes_codes[3]", "NotNull"),
            },
        ),
    ],
)
def test_constraint_violations(
    server: LiveServer,
    test_user: Credential,
    method: str,
    payload: Any,
    expected: set[tuple[str, str]],
) -> None:
    path = TEST + method
    response = post(server, test_user, path, payload)
    assert response.status_code == 400
    body = assert_conforms(path, response, component="ConstraintViolationProblem")
    assert {(e["field"], e["message"]) for e in body["fieldErrors"]} == expected


@pytest.mark.parametrize("method", HES_METHODS)
def test_bad_json(server: LiveServer, test_user: Credential, method: str) -> None:
    path = TEST + method
    with server.client() as client:
        response = client.post(path, content=b'{"hes_code": ', headers=JSON, auth=test_user.auth)
    assert response.status_code == 400
    body = assert_conforms(path, response, component="HttpProblem")
    assert body["message"] == "error.http.400"


@pytest.mark.parametrize(
    ("method", "case"),
    [
        ("check-visitor-hes-code", "no credentials"),
        ("check-employee-hes-code", "wrong password"),
        ("check-hes-codes-plus", "malformed header"),
    ],
)
def test_unauthorized(server: LiveServer, test_user: Credential, method: str, case: str) -> None:
    path, headers = TEST + method, dict(JSON)
    if case == "wrong password":
        headers["Authorization"] = basic(test_user.username, "x" * 20)
    elif case == "malformed header":
        headers["Authorization"] = "Basic !!!"
    payload = [{"hes_code": "A1S10001S1"}] if method in BULK_METHODS else {"hes_code": "A1S10001S1"}
    with server.client() as client:
        response = client.post(path, content=json.dumps(payload), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert assert_conforms(path, response, component="HttpProblem")["status"] == 401


@pytest.mark.parametrize(
    ("method", "case"),
    [("check-hes-codes", "test credential on live"), ("check-hes-code-plus", "unknown user")],
)
def test_forbidden_before_the_password(
    server: LiveServer, test_user: Credential, method: str, case: str
) -> None:
    path = LIVE + method if case == "test credential on live" else TEST + method
    auth = test_user.auth if case == "test credential on live" else ("nobody-at-all", "x" * 20)
    payload = [{"hes_code": "A1S10001S1"}] if method in BULK_METHODS else {"hes_code": "A1S10001S1"}
    with server.client() as client:
        response = client.post(path, json=payload, auth=auth)
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    assert assert_conforms(path, response, component="HttpProblem")["status"] == 403


def test_forbidden_method_not_granted(
    server: LiveServer, make_user: Callable[..., Credential]
) -> None:
    cred = make_user(env="test", methods=("check-employee-hes-code",))
    path = TEST + "check-hes-code-plus"
    response = post(server, cred, path, {"hes_code": "A1S10001S1"})
    assert response.status_code == 403
    assert assert_conforms(path, response, component="HttpProblem")["message"] == "error.http.403"


def test_forbidden_ip_not_allowed(server: LiveServer, make_user: Callable[..., Credential]) -> None:
    cred = make_user(env="test", ip_allowlist=("203.0.113.0/24",))
    path = TEST + "check-employee-hes-code"
    response = post(server, cred, path, {"hes_code": "A1S10001S1"})
    assert response.status_code == 403
    assert_conforms(path, response, component="HttpProblem")


def test_unsupported_media_type(server: LiveServer, test_user: Credential) -> None:
    path = TEST + "check-employee-hes-code"
    with server.client() as client:
        response = client.post(
            path,
            content=b'{"hes_code": "A1S10001S1"}',
            auth=test_user.auth,
            headers={"Content-Type": "text/plain"},
        )
    assert response.status_code == 415
    assert_conforms(path, response, component="HttpProblem")


def test_payload_too_large(server: LiveServer, test_user: Credential) -> None:
    path = TEST + "check-hes-codes"
    body = json.dumps([{"hes_code": "A1S10001S1" * 1000}] * 110).encode()
    assert len(body) > 1 << 20
    with server.client() as client:
        response = client.post(path, content=body, auth=test_user.auth, headers=JSON)
    assert response.status_code == 413
    assert_conforms(path, response, component="HttpProblem")


@pytest.mark.usefixtures("test_fixtures")
def test_rate_limited(server: LiveServer, make_user: Callable[..., Credential]) -> None:
    cred = make_user(env="test", rate_limit="2/minute")
    path = TEST + "check-employee-hes-code"
    statuses = [post(server, cred, path, {"hes_code": "A1S10001S1"}) for _ in range(3)]
    assert [r.status_code for r in statuses] == [200, 200, 429]
    limited = statuses[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert_conforms(path, limited, component="HttpProblem")


def test_other_verbs_are_405_problems(server: LiveServer, test_user: Credential) -> None:
    """Documented in the description (405 is not an answer of the POST operations themselves)."""
    with server.client() as client:
        response = client.get(TEST + "check-employee-hes-code", auth=test_user.auth)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.headers["content-type"] == "application/problem+json"
    assert not list(component_validator("HttpProblem").iter_errors(response.json()))


def test_health_endpoints(server: LiveServer) -> None:
    with server.client() as client:
        for path, expected in (("/healthz", {"status": "ok"}), ("/readyz", {"status": "ready"})):
            response = client.get(path)
            assert response.status_code == 200
            assert assert_conforms(path, response, method="GET") == expected


# ---------------------------------------------------------------------------------------------
# (d) the docs pages serve this document


def test_docs_page_serves_swagger_ui_for_the_hes_spec(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/docs")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        setup = client.get(re.findall(r'<script src="([^"]+)"', page.text)[-1])
        assert "/openapi/hes.json" in setup.text
        assets = re.findall(r'(?:href|src)="(/docs/static/[^"]+)"', page.text)
        assert {a.rsplit("/", 1)[1] for a in assets} >= {
            "swagger-ui.css",
            "swagger-ui-bundle.js",
            "swagger-ui-standalone-preset.js",
        }
        for asset in assets:
            response = client.get(asset)
            assert response.status_code == 200, asset
            packaged = Path(swagger_ui_path) / asset.rsplit("/", 1)[1]
            assert response.content == packaged.read_bytes(), asset


def test_the_root_redirects_a_browser_to_the_docs(server: LiveServer) -> None:
    with server.client() as client:
        response = client.get("/")
        assert response.status_code == 302
        assert response.headers["location"] == "/docs"
        followed = client.get("/", follow_redirects=True)
        assert followed.status_code == 200
        assert "swagger-ui" in followed.text
