"""The ÖBS OpenAPI document is the contract: it is valid, it describes exactly the ÖBS routes the
app serves, real answers of the live server conform to it, and the docs pages serve it as
written."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.routing import Mount, Route

from saglik.config import Settings
from saglik.data.tables import obs_tables
from saglik.domain.clock import ManualClock
from saglik.domain.methods import ALL_METHODS, ENVIRONMENTS, OBS_METHODS
from saglik.domain.obs import AUTH_FAILURE_MESSAGE, NOT_FOUND_MESSAGE
from saglik.domain.turkish import normalize_name
from saglik.services.accounts import AccountService
from saglik.services.obs_fixtures import obs_fixtures
from saglik.services.refdata import import_districts
from saglik.store import migrate
from saglik.store.engine import make_engine
from saglik.web.app import create_app
from saglik.web.obs_routes import (
    INTERNAL_ERROR_MESSAGE,
    NO_SUCH_METHOD_MESSAGE,
    WRONG_VERB_MESSAGE,
)
from tests.change_support import change_log
from tests.conftest import Credential, LiveServer, start_server
from tests.web.obs_helpers import CITIZEN, FOREIGNER, FORM
from tests.web.openapi_support import contract_spec

OBS = contract_spec("obs")
SPEC = OBS.doc
component_validator = OBS.component_validator
schema_validator = OBS.schema_validator
assert_conforms = OBS.assert_conforms
assert_component = OBS.assert_component
wire_order = OBS.wire_order
resolve = OBS.resolve
spec_operations = OBS.spec_operations

LIVE = "/services/g2g/saglik/OBS/"
TEST = "/services/g2g/test/saglik/OBS/"
AUTH_FAILURE_BODY = json.dumps(
    {"State": 0, "Message": AUTH_FAILURE_MESSAGE, "Result": None},
    ensure_ascii=False,
    separators=(",", ":"),
).encode()
"""The documented 500, byte for byte (compact JSON, UTF-8)."""

PARAMETERS = {
    "GetTumOlumlerByDate": ["Tarih", "IlKodu"],
    "GetAdliFormlarByDate": ["Tarih", "IlKodu"],
    "GetGuncellenenOlumlerByDate": ["Tarih", "IlKodu"],
    "GetOlumByTcKimlikNoBasic": ["TcKimlikNo", "Adi", "Soyadi", "DogumTarihi"],
    "GetOlumByTcKimlikNoFull": ["TcKimlikNo", "Adi", "Soyadi", "DogumTarihi"],
    "GetOlumByFormNoBasic": ["FormNo", "ReferansNo"],
    "GetOlumByFormNoFull": ["FormNo", "ReferansNo"],
    "GetOlumByPasaportNoBasic": ["PasaportNo", "Adi", "Soyadi"],
    "GetOlumByPasaportNoFull": ["PasaportNo", "Adi", "Soyadi"],
    "GetOlumTarihiByTcKimlikNo": ["TcKimlikNo"],
}
"""contract §5.2."""

FORENSIC_FORM = {"FormNo": "9000000033", "ReferansNo": "TSTC5R4T"}

SUCCESS: dict[str, tuple[dict[str, str], str]] = {
    "GetTumOlumlerByDate": ({"Tarih": "2025-03-14"}, "FormListSuccess"),
    "GetAdliFormlarByDate": ({"Tarih": "2025-03-14", "IlKodu": "61"}, "FormListSuccess"),
    "GetGuncellenenOlumlerByDate": ({"Tarih": "2025-03-16"}, "FormListSuccess"),
    "GetOlumByTcKimlikNoBasic": (CITIZEN, "BasicSuccess"),
    "GetOlumByTcKimlikNoFull": (CITIZEN, "FullSuccess"),
    "GetOlumByFormNoBasic": (FORM, "BasicSuccess"),
    "GetOlumByFormNoFull": (FORENSIC_FORM, "FullSuccess"),
    "GetOlumByPasaportNoBasic": (FOREIGNER, "BasicSuccess"),
    "GetOlumByPasaportNoFull": (FOREIGNER, "FullSuccess"),
    "GetOlumTarihiByTcKimlikNo": ({"TcKimlikNo": "76883560160"}, "DeathDateSuccess"),
}
"""A successful test-environment call of every method, on the fixture forms."""

NOT_FOUND: dict[str, dict[str, str]] = {
    "GetOlumByTcKimlikNoBasic": {**CITIZEN, "Adi": "Ahmet"},
    "GetOlumByTcKimlikNoFull": {**CITIZEN, "DogumTarihi": "1941-05-03"},
    "GetOlumByFormNoBasic": {**FORM, "ReferansNo": "TSTB3N8P"},
    "GetOlumByFormNoFull": {"FormNo": "9999999999", "ReferansNo": "XXXXXXXX"},
    "GetOlumByPasaportNoBasic": {**FOREIGNER, "PasaportNo": "C01X00T48"},
    "GetOlumByPasaportNoFull": {**FOREIGNER, "Soyadi": "Schmitt"},
    "GetOlumTarihiByTcKimlikNo": {"TcKimlikNo": "10000000146"},
}

INVALID: list[tuple[str, dict[str, str], str]] = [
    ("GetTumOlumlerByDate", {}, "Tarih parametresi zorunludur (yyyy-mm-dd)."),
    ("GetTumOlumlerByDate", {"Tarih": "14.03.2025"}, "Tarih parametresi yyyy-mm-dd biçiminde"),
    ("GetAdliFormlarByDate", {"Tarih": "2025-02-30"}, "Tarih parametresi geçerli bir tarih"),
    ("GetGuncellenenOlumlerByDate", {"Tarih": "2025-03-16", "IlKodu": "82"}, "IlKodu 1 ile 81"),
    ("GetOlumByTcKimlikNoBasic", {**CITIZEN, "TcKimlikNo": "76883560161"}, "TcKimlikNo geçerli"),
    ("GetOlumByTcKimlikNoFull", {**CITIZEN, "Adi": "  "}, "Adi parametresi zorunludur."),
    ("GetOlumByTcKimlikNoFull", {**CITIZEN, "DogumTarihi": "1941-5-2"}, "DogumTarihi"),
    ("GetOlumByFormNoBasic", {"FormNo": "9000000011"}, "ReferansNo olmadan yalnızca FormNo"),
    ("GetOlumByFormNoFull", {**FORM, "FormNo": "9" * 21}, "FormNo parametresi en fazla 20"),
    ("GetOlumByPasaportNoBasic", {"Adi": "Anna", "Soyadi": "X"}, "PasaportNo parametresi"),
    ("GetOlumByPasaportNoFull", {**FOREIGNER, "Soyadi": ""}, "Soyadi parametresi zorunludur."),
    ("GetOlumTarihiByTcKimlikNo", {}, "TcKimlikNo parametresi zorunludur."),
]

TABLE_OF = {
    "Cinsiyet": "Cinsiyet",
    "OlumYeri": "OlumYeri",
    "OlumSekli": "OlumSekli",
    "KadinOlumuNedeni": "KadinOlumuNedeni",
    "OlumNedeniTuru": "OlumNedeniTuru",
    "ServisSonucDurumu": "ServisSonucDurumu",
}
"""Spec schema → data/obs_tables.json table it enumerates."""


# ---------------------------------------------------------------------------------------------
# helpers


def operation(method: str) -> dict[str, Any]:
    return resolve(SPEC["paths"][TEST + method]["$ref"])["get"]  # type: ignore[no-any-return]


def response_schema(method: str, status: str) -> dict[str, Any]:
    response = operation(method)["responses"][status]
    if "$ref" in response:
        response = resolve(response["$ref"])
    return response["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# (a) the document itself (the checks every document shares are in test_openapi_documents.py)


def test_both_environments_share_one_definition_per_method() -> None:
    assert set(SPEC["paths"]) == {prefix + m for prefix in (LIVE, TEST) for m in OBS_METHODS}
    for method in OBS_METHODS:
        live, test = SPEC["paths"][LIVE + method], SPEC["paths"][TEST + method]
        assert set(live) == {"$ref"}
        assert live == test, f"{method}: live and test must reference the same path item"
        assert set(resolve(live["$ref"])) == {"get"}


@pytest.mark.parametrize("method", OBS_METHODS)
def test_parameters_are_the_documented_ones(method: str) -> None:
    params = [resolve(p["$ref"]) if "$ref" in p else p for p in operation(method)["parameters"]]
    assert [p["name"] for p in params] == PARAMETERS[method]
    assert all(p["in"] == "query" for p in params)
    assert {p["name"] for p in params if not p.get("required")} <= {"IlKodu"}
    assert set(operation(method)["responses"]) == {"200", "429", "500", "503"}


def test_case_insensitivity_scope_and_local_times_are_documented() -> None:
    description = SPEC["info"]["description"]
    assert "match case-insensitively" in description
    assert "## Scope" in description
    assert "without an offset" in description
    assert "byte-identical whatever its cause" in description


def test_description_lists_every_test_fixture_form() -> None:
    description = SPEC["info"]["description"]
    rows = re.findall(r"^\| ([^|`]+?) \| `([0-9]{10})` \| `([A-Z0-9]{8})` \|", description, re.M)
    assert rows == [(fx.category, fx.form_no, fx.referans_no) for fx in obs_fixtures()]


@pytest.mark.parametrize("schema", sorted(TABLE_OF))
def test_enums_are_the_code_tables(schema: str) -> None:
    """Enum values are data/obs_tables.json's keys, each described with its Turkish name."""
    table = obs_tables()[TABLE_OF[schema]]
    node = SPEC["components"]["schemas"][schema]
    assert node["type"] == "integer"
    assert node["enum"] == list(table)
    description = " ".join(node["description"].split())
    for code, name in table.items():
        assert f"`{code}` {name}" in description, (schema, code, name)


def test_fixed_messages_are_the_servers() -> None:
    schemas = SPEC["components"]["schemas"]
    assert schemas["NotFound"]["properties"]["Message"]["enum"] == [NOT_FOUND_MESSAGE]
    assert schemas["AuthorizationFailure"]["properties"]["Message"]["enum"] == [
        AUTH_FAILURE_MESSAGE
    ]


def test_full_dto_is_the_basic_dto_then_causes_autopsy_and_injury() -> None:
    schemas = SPEC["components"]["schemas"]
    basic, full = schemas["ObsBasicDto"], schemas["ObsFullDto"]
    assert wire_order("ObsBasicDto") == basic["required"]
    assert wire_order("ObsFullDto") == full["required"]
    assert wire_order("ObsFullDto") == [
        *wire_order("ObsBasicDto"),
        "OlumNedenleri",
        "OtopsiYapildiMi",
        "YaralanmaTarihi",
    ]
    for name in wire_order("ObsBasicDto"):
        assert full["properties"][name] == basic["properties"][name], name


def test_the_spec_and_the_server_agree_on_what_is_blank() -> None:
    """Every BMP character alone (and a few astral ones): the spec's non-blank name pattern
    accepts it iff the server's name normalisation leaves something to compare."""
    spec_ok = component_validator("QueryName")
    chars = [chr(i) for i in range(0x10000) if not 0xD800 <= i <= 0xDFFF]
    chars += ["\U0001f600", "\U000e0020"]
    disagreements = [
        f"U+{ord(c):04X}" for c in chars if spec_ok.is_valid(c * 2) != bool(normalize_name(c * 2))
    ]
    assert not disagreements


# ---------------------------------------------------------------------------------------------
# (b) the spec and the app's routes describe the same ÖBS surface


@pytest.fixture(scope="module")
def obs_routes(tmp_path_factory: pytest.TempPathFactory) -> set[tuple[str, str]]:
    path = tmp_path_factory.mktemp("routes") / "saglik.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    try:
        app = create_app(Settings(database_url="unused-engine-injected"), engine=engine)
        served: set[tuple[str, str]] = set()
        for route in app.routes:
            if isinstance(route, Mount) or "/OBS/" not in getattr(route, "path", ""):
                continue
            assert isinstance(route, Route)
            paths = [route.path]
            if "{method}" in route.path:
                paths = [route.path.replace("{method}", name) for name in OBS_METHODS]
            for verb in route.methods or ():
                if verb != "HEAD":  # Starlette adds HEAD to every GET route
                    served.update((verb, p) for p in paths)
        return served
    finally:
        engine.dispose()


def test_every_served_obs_route_is_in_the_spec_and_every_spec_path_is_served(
    obs_routes: set[tuple[str, str]],
) -> None:
    assert spec_operations() == obs_routes
    assert obs_routes == {("GET", p + m) for p in (LIVE, TEST) for m in OBS_METHODS}


def test_every_spec_path_reaches_its_handler_on_the_live_server(server: LiveServer) -> None:
    """Without credentials an ÖBS path answers the documented 500 (routed to the ÖBS gateway)."""
    with server.client() as client:
        for verb, path in sorted(spec_operations()):
            response = client.request(verb, path)
            assert response.status_code == 500, path
            assert response.content == AUTH_FAILURE_BODY
            assert_conforms(path, response, component="AuthorizationFailure")


@pytest.mark.parametrize("name", ["GetOlumByFormNo", "check-hes-codes", "GetTumOlumlerByDateX"])
def test_an_unknown_method_name_is_the_documented_404(server: LiveServer, name: str) -> None:
    with server.client() as client:
        response = client.get(TEST + name, params={"Tarih": "2025-03-14"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = response.json()
    assert_component("UnknownMethod", body)
    not_found = SPEC["components"]["responses"]["NotFound"]
    assert schema_validator(not_found["content"]["application/json"]["schema"]).is_valid(body)
    assert body == not_found["content"]["application/json"]["example"]


# ---------------------------------------------------------------------------------------------
# (c) real answers of the live server conform to the spec


@pytest.fixture(scope="module")
def contract_users(store: Engine, clock: ManualClock) -> dict[str, Credential]:
    """One unscoped all-methods user per environment for the whole module (Argon2 is slow)."""
    accounts = AccountService(store, clock, change_log(store, clock))
    institution = f"Kurum {uuid.uuid4().hex[:10]}"
    accounts.add_institution(institution)
    made = {}
    for env in ENVIRONMENTS:
        username = f"obs-contract-{env}-{uuid.uuid4().hex[:8]}"
        issued = accounts.add_user(
            username=username, institution=institution, env=env, methods=ALL_METHODS
        )
        made[env] = Credential(username, issued.password, env)
    return made


@pytest.fixture
def test_user(contract_users: dict[str, Credential]) -> Credential:
    return contract_users["test"]


@pytest.fixture
def live_user(contract_users: dict[str, Credential]) -> Credential:
    return contract_users["live"]


def get(
    server: LiveServer, cred: Credential | None, path: str, params: dict[str, str]
) -> httpx.Response:
    with server.client() as client:
        return client.get(path, params=params, auth=cred.auth if cred else None)


def check_result_order(component: str, result: Any) -> None:
    if component == "FormListSuccess":
        for item in result:
            assert list(item) == wire_order("ObsFormListDto")
    elif component in ("BasicSuccess", "FullSuccess"):
        dto = "ObsBasicDto" if component == "BasicSuccess" else "ObsFullDto"
        assert list(result) == wire_order(dto)
        for cause in result.get("OlumNedenleri", []):
            assert list(cause) == wire_order("OlumNedeni")


@pytest.mark.parametrize("method", OBS_METHODS)
def test_success(server: LiveServer, test_user: Credential, method: str) -> None:
    params, component = SUCCESS[method]
    path = TEST + method
    response = get(server, test_user, path, params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = assert_conforms(path, response, component=component)
    assert list(body) == wire_order("ServisSonucu")
    assert body["State"] == 1
    assert body["Message"] is None
    check_result_order(component, body["Result"])
    if component == "FormListSuccess":
        assert body["Result"], f"{method}: the fixtures of {params['Tarih']} are listed"


def test_case_insensitive_method_and_parameter_names(
    server: LiveServer, test_user: Credential
) -> None:
    """The spec's canonical names are not the only ones: the answer is the same."""
    canonical = get(server, test_user, TEST + "GetOlumByFormNoBasic", FORM)
    folded = get(
        server,
        test_user,
        TEST + "getolumbyformnobasic",
        {"formno": FORM["FormNo"], "REFERANSNO": FORM["ReferansNo"].lower()},
    )
    assert folded.status_code == canonical.status_code == 200
    assert folded.content == canonical.content
    assert_component("BasicSuccess", folded.json())


def test_empty_day_is_an_empty_list(server: LiveServer, test_user: Credential) -> None:
    path = TEST + "GetTumOlumlerByDate"
    response = get(server, test_user, path, {"Tarih": "1900-01-01"})
    assert assert_conforms(path, response, component="FormListSuccess")["Result"] == []


def test_live_environment_answers_conform(server: LiveServer, live_user: Credential) -> None:
    """The test fixtures are not live data: on the live path they are not found."""
    path = LIVE + "GetOlumByFormNoFull"
    response = get(server, live_user, path, FORENSIC_FORM)
    assert assert_conforms(path, response, component="NotFound")["Message"] == NOT_FOUND_MESSAGE
    path = LIVE + "GetTumOlumlerByDate"
    response = get(server, live_user, path, {"Tarih": "2025-03-14", "IlKodu": "06"})
    assert_conforms(path, response, component="FormListSuccess")


@pytest.mark.parametrize("method", sorted(NOT_FOUND))
def test_not_found(server: LiveServer, test_user: Credential, method: str) -> None:
    path = TEST + method
    response = get(server, test_user, path, NOT_FOUND[method])
    assert response.status_code == 200
    body = assert_conforms(path, response, component="NotFound")
    assert body == {"State": 2, "Message": NOT_FOUND_MESSAGE, "Result": None}


def test_out_of_scope_reads_like_not_found(
    server: LiveServer, make_user: Callable[..., Credential]
) -> None:
    """A user bound to Ankara (06) does not see the Trabzon forensic fixture."""
    cred = make_user(env="test", methods=OBS_METHODS, province_code=6)
    path = TEST + "GetOlumByFormNoFull"
    response = get(server, cred, path, FORENSIC_FORM)
    assert assert_conforms(path, response, component="NotFound")["State"] == 2
    path = TEST + "GetAdliFormlarByDate"
    response = get(server, cred, path, {"Tarih": "2025-03-14"})
    forms = assert_conforms(path, response, component="FormListSuccess")["Result"]
    assert FORENSIC_FORM not in forms


@pytest.mark.parametrize(("method", "params", "message"), INVALID)
def test_invalid_parameters(
    server: LiveServer, test_user: Credential, method: str, params: dict[str, str], message: str
) -> None:
    path = TEST + method
    response = get(server, test_user, path, params)
    assert response.status_code == 200
    body = assert_conforms(path, response, component="InvalidParameters")
    assert body["State"] == 0
    assert body["Message"].startswith(message)


@pytest.mark.parametrize(
    "case",
    [
        "no credentials",
        "wrong password",
        "unknown user",
        "test credential on live",
        "live credential on test",
        "malformed header",
        "NUL in the username",
        "method not granted",
        "address not allowed",
    ],
)
def test_authorization_failure_is_the_documented_500(
    server: LiveServer,
    test_user: Credential,
    live_user: Credential,
    make_user: Callable[..., Credential],
    case: str,
) -> None:
    method = "GetOlumByTcKimlikNoFull"
    path, headers = TEST + method, {}
    auth: tuple[str, str] | None = None
    if case == "wrong password":
        auth = (test_user.username, "x" * 24)
    elif case == "unknown user":
        auth = (f"nobody-{uuid.uuid4().hex[:8]}", "x" * 24)
    elif case == "test credential on live":
        path, auth = LIVE + method, test_user.auth
    elif case == "live credential on test":
        auth = live_user.auth
    elif case == "malformed header":
        headers["Authorization"] = "Basic !!!"
    elif case == "NUL in the username":  # PostgreSQL text cannot hold NUL: never a query error
        headers["Authorization"] = "Basic " + base64.b64encode(b"a\x00b:" + b"x" * 24).decode()
    elif case == "method not granted":
        auth = make_user(env="test", methods=("GetOlumByTcKimlikNoBasic",)).auth
    elif case == "address not allowed":
        auth = make_user(env="test", ip_allowlist=("203.0.113.0/24",)).auth
    with server.client() as client:
        response = client.get(path, params=CITIZEN, headers=headers, auth=auth)
    assert response.status_code == 500
    assert response.content == AUTH_FAILURE_BODY, "byte-identical whatever the cause"
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "www-authenticate" not in response.headers
    assert_conforms(path, response, component="AuthorizationFailure")
    example = SPEC["components"]["responses"]["AuthorizationFailure"]["content"]
    assert response.json() == example["application/json"]["example"]


def test_rate_limited(server: LiveServer, make_user: Callable[..., Credential]) -> None:
    cred = make_user(env="test", rate_limit="2/minute")
    path = TEST + "GetOlumTarihiByTcKimlikNo"
    answers = [get(server, cred, path, {"TcKimlikNo": "76883560160"}) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]
    limited = answers[-1]
    assert int(limited.headers["retry-after"]) >= 1
    assert_conforms(path, limited, component="RateLimited")


def test_audit_store_unavailable_is_the_documented_503(
    tmp_path_factory: pytest.TempPathFactory, clock: ManualClock
) -> None:
    """A server of its own whose audit table is gone: no answer is released without its record."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('noaudit') / 'saglik.db'}")
    migrate.upgrade(engine)
    import_districts(engine)
    accounts = AccountService(engine, clock, change_log(engine, clock))
    accounts.add_institution("Kurum")
    issued = accounts.add_user(
        username="noaudit", institution="Kurum", env="test", methods=ALL_METHODS
    )
    settings = Settings(database_url="unused-engine-injected")
    srv, thread, base_url = start_server(engine, clock, settings)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE audit_subjects"))
            conn.execute(text("DROP TABLE audit_events"))
        path = TEST + "GetOlumTarihiByTcKimlikNo"
        with httpx.Client(base_url=base_url, timeout=10) as client:
            response = client.get(
                path, params={"TcKimlikNo": "76883560160"}, auth=("noaudit", issued.password)
            )
        assert response.status_code == 503
        assert_conforms(path, response, component="AuditUnavailable")
    finally:
        srv.should_exit = True
        thread.join(timeout=15)
        engine.dispose()


def test_other_verbs_are_the_documented_405_envelope(
    server: LiveServer, test_user: Credential
) -> None:
    """Documented in the description and as ``responses/MethodNotAllowed`` (405 is not an answer
    of the GET operations themselves); an envelope like every ÖBS answer (issue 14)."""
    with server.client() as client:
        response = client.post(TEST + "GetTumOlumlerByDate", auth=test_user.auth)
    assert response.status_code == 405
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    documented = SPEC["components"]["responses"]["MethodNotAllowed"]
    allow = documented["headers"]["Allow"]
    assert allow["required"]
    assert schema_validator(allow["schema"]).is_valid(response.headers["allow"])
    body = response.json()
    assert_component("MethodNotAllowed", body)
    assert body == documented["content"]["application/json"]["example"]


def test_the_http_level_messages_are_the_servers() -> None:
    schemas = SPEC["components"]["schemas"]
    for schema, message in (
        ("MethodNotAllowed", WRONG_VERB_MESSAGE),
        ("UnknownMethod", NO_SUCH_METHOD_MESSAGE),
        ("InternalError", INTERNAL_ERROR_MESSAGE),
    ):
        assert schemas[schema]["properties"]["Message"]["enum"] == [message]


# ---------------------------------------------------------------------------------------------
# (d) the docs pages serve this document


def test_docs_page_offers_both_specs(server: LiveServer) -> None:
    with server.client() as client:
        page = client.get("/docs")
        setup = client.get(re.findall(r'<script src="([^"]+)"', page.text)[-1])
    assert page.status_code == 200
    assert "/openapi/hes.json" in setup.text
    assert "/openapi/obs.json" in setup.text
