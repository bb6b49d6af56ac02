"""API documentation: the contract-first OpenAPI files and a Swagger UI served from the package
(no CDN: sandboxes often run where browsers cannot reach one)."""

from __future__ import annotations

import json
import os
from functools import cache
from importlib import resources
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope
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


_URLS = json.dumps(
    [{"url": f"/openapi/{name}.json", "name": title} for name, title in SPECS.items()]
)

# The page runs no inline script: the Content-Security-Policy every HTML answer carries
# (security_headers.py) allows scripts from this origin's files only.
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>saglik API</title>
<link rel="icon" type="image/png" href="/docs/static/favicon-32x32.png">
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-ui-standalone-preset.js"></script>
<script src="/docs/init.js"></script>
</body></html>"""

_INIT = f"""window.ui = SwaggerUIBundle({{urls: {_URLS}, dom_id: "#swagger-ui", deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"}});
"""
"""``validatorUrl: null``: the UI would otherwise show each spec's address to an online
validator (another host, which the page's policy refuses anyway)."""

PACKAGED_FILES_CACHE = "no-cache"
"""The Swagger UI's own files carry no data: a browser may keep them, but asks (ETag) whether
they changed, so an upgraded package is never mixed with an old page."""


class _PackagedFiles(StaticFiles):
    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = PACKAGED_FILES_CACHE
        return response


async def _page(_request: Request) -> Response:
    return HTMLResponse(_PAGE)


async def _init(_request: Request) -> Response:
    return Response(_INIT, media_type="text/javascript")


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


async def _to_docs(_request: Request) -> Response:
    """A person who opens the server's address (or ``/docs/``) in a browser wants the
    documentation. The Location is a path, never built from the request's ``Host``."""
    return RedirectResponse("/docs", status_code=302)


def routes() -> list[BaseRoute]:
    return [
        Route("/", _to_docs, methods=["GET"]),
        Route("/docs", _page, methods=["GET"]),
        Route("/docs/", _to_docs, methods=["GET"]),
        Route("/docs/init.js", _init, methods=["GET"]),
        Mount(
            "/docs/static", app=_PackagedFiles(directory=str(swagger_ui_path)), name="swagger-ui"
        ),
        Route("/openapi/{name}.json", _spec_json, methods=["GET"]),
        Route("/openapi/{name}.yaml", _spec_yaml, methods=["GET"]),
    ]
