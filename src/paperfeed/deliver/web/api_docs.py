"""The API's own description: ``/openapi.json`` as FastAPI builds it, with bad input
documented as the 400 envelope the app answers (never FastAPI's 422), and ``/docs``,
Swagger UI served from the package (``static/vendor/swagger-ui``, pinned in
``frontend/package.json``): no CDN, so it works offline, and no inline script, so the
Content-Security-Policy holds there too."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paperfeed API</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/api-docs.js"></script>
</body>
</html>
"""
_ERROR_OUT = {"$ref": "#/components/schemas/ErrorOut"}


def _bad_input_is_400(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's documented 422 by the 400 envelope the app really answers."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault(
                    "400",
                    {
                        "description": "invalid input",
                        "content": {"application/json": {"schema": _ERROR_OUT}},
                    },
                )
    components = schema.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    return schema


def install_api_docs(app: FastAPI) -> None:
    """``/openapi.json`` with 400 for bad input, and ``/docs`` from the package."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = _bad_input_is_400(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    async def api_docs() -> HTMLResponse:
        return HTMLResponse(DOCS_PAGE)
