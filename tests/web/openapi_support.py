"""Reading a bundled OpenAPI document the way the contract tests need it: walking it, resolving its
local ``$ref``s, validating bodies and examples against its schemas, and checking live answers with
schemathesis' conformance checks.

The HES and ÖBS contract tests (and the generic document checks run over both) used to carry a
copy each; one ``ContractSpec`` per document keeps them from drifting apart.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import schemathesis
import yaml
from schemathesis import checks as st_checks

SPEC_NAMES = ("hes", "obs", "admin")
"""Every document under saglik/web/openapi/."""

CONFORMANCE = [
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]
_VERBS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects → JSON Schema (draft 4): ``nullable`` becomes ``anyOf null``."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


def walk(node: Any, at: str = "#") -> Iterator[tuple[str, Any]]:
    """Every node of the document with its JSON pointer, depth first."""
    yield at, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{at}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{at}/{index}")


class ContractSpec:
    """One bundled document: ``doc`` as loaded from YAML, ``schema`` as schemathesis sees it."""

    def __init__(self, name: str, *, default_method: str) -> None:
        self.name = name
        self.file = Path(str(resources.files("saglik.web").joinpath(f"openapi/{name}.yaml")))
        self.doc: dict[str, Any] = yaml.safe_load(self.file.read_text("utf-8"))
        self.schema = schemathesis.openapi.from_dict(copy.deepcopy(self.doc))
        self.default_method = default_method
        self._components = as_json_schema(self.doc["components"])

    def component_validator(self, name: str) -> jsonschema_rs.Draft4Validator:
        root = {"$ref": f"#/components/schemas/{name}", "components": self._components}
        return jsonschema_rs.Draft4Validator(root, validate_formats=True)

    def schema_validator(self, schema: dict[str, Any]) -> jsonschema_rs.Draft4Validator:
        root = {**as_json_schema(schema), "components": self._components}
        return jsonschema_rs.Draft4Validator(root, validate_formats=True)

    def assert_component(self, component: str, body: Any) -> None:
        errors = [str(e) for e in self.component_validator(component).iter_errors(body)]
        assert not errors, f"{component}: {errors}"

    def assert_conforms(
        self,
        path: str,
        response: httpx.Response,
        *,
        component: str | None = None,
        method: str | None = None,
        path_parameters: dict[str, str] | None = None,
    ) -> Any:
        """The status is documented for the operation, and the content type, the headers and the
        body conform to what the spec documents for that status (schemathesis' own checks); with
        ``component`` the body also validates against that named schema. Returns the parsed
        body. ``method`` defaults to the document's own verb (POST for HES, GET for ÖBS);
        ``path_parameters`` fill a templated ``path`` as the request did."""
        method = method or self.default_method
        operation = self.schema[path][method]
        documented = operation.definition.raw["responses"]
        assert str(response.status_code) in documented, (
            f"{method} {path} answered {response.status_code}, documented: {sorted(documented)}"
        )
        case = operation.Case(path_parameters=path_parameters)
        case.validate_response(response, checks=CONFORMANCE)
        body = response.json()
        if component is not None:
            self.assert_component(component, body)
        return body

    def wire_order(self, component: str) -> list[str]:
        return list(self.doc["components"]["schemas"][component]["properties"])

    def resolve(self, pointer: str) -> Any:
        assert pointer.startswith("#/"), f"only local references are used: {pointer}"
        node: Any = self.doc
        for raw in pointer[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    def spec_operations(self) -> set[tuple[str, str]]:
        """(VERB, path) of every operation the document describes."""
        ops = set()
        for path, item in self.doc["paths"].items():
            resolved = self.resolve(item["$ref"]) if "$ref" in item else item
            ops.update((verb.upper(), path) for verb in resolved if verb in _VERBS)
        return ops


@functools.cache
def contract_spec(name: str) -> ContractSpec:
    """The document ``name``, loaded once per test run."""
    return ContractSpec(name, default_method="POST" if name == "hes" else "GET")
