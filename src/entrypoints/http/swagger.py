"""Swagger UI from a package: no CDN, works offline, nothing loaded from elsewhere.

Litestar's Swagger page loads its scripts from a CDN by default, without
integrity hashes: whoever controls that CDN runs script on an operator's
page. The same files ship in the ``swagger-ui-py`` wheel (Swagger UI 5,
which renders OpenAPI 3.1); they are served from here under
``/schema/assets/``. The package is located, not imported (importing it
pulls in its framework adapters).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

ASSETS = "/schema/assets"
FILES = ("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")


def assets_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing (uv sync)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def swagger_plugin() -> SwaggerRenderPlugin:
    return SwaggerRenderPlugin(
        path="/swagger",
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        # Litestar's default favicon is on a CDN too.
        favicon=f'<link rel="icon" type="image/png" href="{ASSETS}/favicon-32x32.png">',
    )


def swagger_assets_router() -> Router:
    return create_static_files_router(
        path=ASSETS,
        directories=[assets_dir()],
        include_in_schema=False,
        name="swagger-assets",
    )
