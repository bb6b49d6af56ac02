"""API documentation: the contract-first OpenAPI files and a Swagger UI served from the package
(no CDN: sandboxes often run where browsers cannot reach one)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

SPECS = {
    "hes": "HES code query service (v3.0)",
    "obs": "ÖBS death notification query service",
    "admin": "Operator API (/admin/api)",
}
"""Spec name → title in the UI's selector; each is ``openapi/<name>.yaml`` in this package."""


def spec_text(name: str) -> str:
    return resources.files("saglik.web").joinpath(f"openapi/{name}.yaml").read_text("utf-8")


@cache
def spec(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load(spec_text(name))
    assert isinstance(loaded, dict)
    return loaded


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>saglik API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({urls: %s, dom_id: "#swagger-ui", deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
</script></body></html>"""


async def _page(_request: Request) -> Response:
    urls = [{"url": f"/openapi/{name}.json", "name": title} for name, title in SPECS.items()]
    return HTMLResponse(_PAGE % json.dumps(urls))


async def _spec_json(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SPECS:
        return JSONResponse({"detail": "no such spec"}, status_code=404)
    return JSONResponse(spec(name))


async def _spec_yaml(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in SPECS:
        return JSONResponse({"detail": "no such spec"}, status_code=404)
    return Response(spec_text(name), media_type="application/yaml")


async def _home(_request: Request) -> Response:
    """A person who opens the server's address in a browser wants the documentation."""
    return RedirectResponse("/docs", status_code=302)


def routes() -> list[BaseRoute]:
    return [
        Route("/", _home, methods=["GET"]),
        Route("/docs", _page, methods=["GET"]),
        Mount("/docs/static", app=StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui"),
        Route("/openapi/{name}.json", _spec_json, methods=["GET"]),
        Route("/openapi/{name}.yaml", _spec_yaml, methods=["GET"]),
    ]
