"""Checks every bundled OpenAPI document must pass, run once per document (HES, ÖBS, operator API):
it is valid OpenAPI 3.0 and is what the app serves, its references resolve, its examples conform,
it survives a JSON round trip, schemathesis reads the same operations, and the server hands it out
unchanged.

The checks particular to one document stay in test_openapi_contract.py (HES),
test_obs_openapi_contract.py (ÖBS) and test_admin_openapi_contract.py (operator API).
"""

from __future__ import annotations

import json

import pytest
import schemathesis

from saglik.web import docs
from tests.conftest import LiveServer
from tests.web.openapi_support import SPEC_NAMES, contract_spec, walk

MIN_EXAMPLES = {"hes": 15, "obs": 20, "admin": 20}
"""How many examples each document is known to carry, so a walk that finds none cannot pass."""

pytestmark = pytest.mark.parametrize("name", SPEC_NAMES)


def test_spec_is_valid_openapi_3_0(name: str) -> None:
    spec = contract_spec(name)
    assert spec.doc["openapi"] == "3.0.3", "the bundled Swagger UI 4 renders only OpenAPI 3.0"
    schemathesis.openapi.from_path(spec.file).validate()  # raises on any meta-schema violation
    assert docs.spec(name) == spec.doc, "the app serves the file this test reads"


def test_every_reference_resolves(name: str) -> None:
    spec = contract_spec(name)
    refs = [
        (at, node["$ref"])
        for at, node in walk(spec.doc)
        if isinstance(node, dict) and "$ref" in node
    ]
    assert refs
    for at, ref in refs:
        try:
            spec.resolve(ref)
        except (KeyError, IndexError) as exc:
            pytest.fail(f"{at}: unresolvable $ref {ref} ({exc})")


def test_every_example_conforms_to_its_schema(name: str) -> None:
    """Request, parameter and response examples are part of the contract; they must not drift
    from it."""
    spec = contract_spec(name)
    checked = 0
    for at, node in walk(spec.doc):
        if not (
            isinstance(node, dict)
            and "schema" in node
            and ("example" in node or "examples" in node)
        ):
            continue
        if "/headers/" in at:
            continue
        validator = spec.schema_validator(node["schema"])
        examples = {"example": node["example"]} if "example" in node else {}
        for example_name, example in node.get("examples", {}).items():
            examples[example_name] = (
                spec.resolve(example["$ref"])["value"] if "$ref" in example else example["value"]
            )
        for example_name, value in examples.items():
            errors = [str(e) for e in validator.iter_errors(value)]
            assert not errors, f"{at} example {example_name!r}: {errors}"
            checked += 1
    assert checked >= MIN_EXAMPLES[name]


def test_yaml_has_no_values_json_cannot_carry(name: str) -> None:
    """Unquoted timestamps would load as datetimes and break /openapi/<name>.json."""
    spec = contract_spec(name).doc
    assert json.loads(json.dumps(spec)) == spec


def test_schemathesis_sees_the_same_operations(name: str) -> None:
    spec = contract_spec(name)
    labels = {op.ok().label for op in spec.schema.get_all_operations()}
    assert labels == {f"{verb} {path}" for verb, path in spec.spec_operations()}


def test_served_json_and_yaml_are_the_document(server: LiveServer, name: str) -> None:
    spec = contract_spec(name)
    with server.client() as client:
        as_json = client.get(f"/openapi/{name}.json")
        as_yaml = client.get(f"/openapi/{name}.yaml")
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    assert as_json.json() == spec.doc
    assert as_yaml.status_code == 200
    assert as_yaml.text == spec.file.read_text("utf-8")
    schemathesis.openapi.from_dict(as_json.json()).validate()
