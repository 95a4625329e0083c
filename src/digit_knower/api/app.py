"""The FastAPI application: one model and one store per process, built in the lifespan
(`serving.startup.build_services`, the same start-up as the page's)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from digit_knower.api import http_metrics as api_metrics
from digit_knower.api.docs import install_docs
from digit_knower.api.errors import Problem, install_error_handlers
from digit_knower.api.headers import SecurityHeadersMiddleware
from digit_knower.api.limits import BodySizeLimitMiddleware
from digit_knower.api.routes import probes, v1
from digit_knower.serving.startup import Services, build_services
from digit_knower.settings import get_settings

DESCRIPTION = """\
Draw a digit, and the machine reads it: the same model and the same prediction log as the web page.

Send a picture of one digit to `POST /v1/predictions` (a PNG, JPEG or WebP file, base64, or 28x28
pixels), then tell us the true digit with `PUT /v1/predictions/{id}/label`. Send an
`Idempotency-Key` to make retries safe. Every error is an RFC 9457 problem document
(`application/problem+json`).
"""


def create_app(services: Services | None = None) -> FastAPI:
    """The API. Pass `services` to share one model and store (tests); otherwise the lifespan builds them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        app.state.services = build_services()
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(
        title="Digit Knower",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by install_docs instead: from the package, behind the API key.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(BodySizeLimitMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)  # outside the body limit: the 413s get the headers too
    settings = get_settings()
    if settings.metrics_enabled:
        # Outermost, so that it times and counts every answer, the body limit's 413s included.
        app.add_middleware(api_metrics.RequestMetricsMiddleware)
        if settings.metrics_port is None:
            app.include_router(api_metrics.router)
    install_error_handlers(app)
    app.include_router(v1)
    app.include_router(probes)
    _add_problem_schema(app)
    if get_settings().api_docs:
        install_docs(app)
    return app


def _add_problem_schema(app: FastAPI) -> None:
    """Put the Problem schema (and the JSON body forms of POST /v1/predictions) in components."""
    from digit_knower.api.schemas import ImageRequest, PixelsRequest

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, ImageRequest, PixelsRequest):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
