"""The API's documentation, served from the package: nothing is loaded from a CDN.

- `/openapi.json`: the OpenAPI document;
- `/docs`: Swagger UI 5, to read the document and try the endpoints;
- `/docs/assets/`: its script and styles, from the `fastapi-offline` wheel (Swagger UI 4 from
  `swagger-ui-bundle` cannot show an OpenAPI 3.1 document such as FastAPI writes).

ReDoc is not served: its bundle always shows a logo fetched from its maker's CDN. The page runs no
inline script, so its Content-Security-Policy allows scripts from this origin only. With
DIGIT_KNOWER_API_KEY set, the page and the document need the key as well, in X-API-Key or as the
password a browser asks for (the assets are public code). DIGIT_KNOWER_API_DOCS=false turns all of
it off.
"""

from __future__ import annotations

import html
from importlib.resources import files
from typing import Any, Final

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from digit_knower.api.deps import require_docs_access

ASSETS_URL: Final = "/docs/assets"
ASSETS_DIR: Final = files("fastapi_offline") / "static"
# Swagger UI sets style attributes; its icons are data: URLs. Nothing else is allowed, and nothing
# from another origin.
DOCS_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)
_PAGE_HEADERS: Final = {"Content-Security-Policy": DOCS_POLICY, "Cache-Control": "no-store"}

SWAGGER_INIT: Final = """\
window.addEventListener("load", () => {
  const node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    dom_id: "#swagger-ui",
    validatorUrl: null,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
    layout: "BaseLayout",
  });
});
"""

_SWAGGER_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""


def install_docs(app: FastAPI) -> None:
    """Add the documentation routes to `app` (none of them in its OpenAPI document)."""
    guard = [Depends(require_docs_access)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=guard)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        text = _SWAGGER_PAGE.format(
            title=html.escape(app.title),
            assets=html.escape(root + ASSETS_URL),
            openapi=html.escape(root + "/openapi.json"),
        )
        return HTMLResponse(text, headers=_PAGE_HEADERS)

    @app.get(f"{ASSETS_URL}/swagger-init.js", include_in_schema=False)
    async def swagger_init() -> Response:
        return Response(SWAGGER_INIT, media_type="text/javascript")

    app.mount(ASSETS_URL, _Assets(directory=str(ASSETS_DIR)), name="docs-assets")


class _Assets(StaticFiles):
    """The docs' scripts and styles: public, and the same until the package changes."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response
