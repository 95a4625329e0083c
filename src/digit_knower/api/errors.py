"""Every error the API returns is an RFC 9457 problem document (application/problem+json).

Domain errors from the core (a blank drawing, an unknown id, a database that is down) are mapped
to their HTTP status here, once, so the routes stay free of try/except.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import compile_path

from digit_knower import EmptyImageError, InvalidImageError
from digit_knower.reader.picture import UnsupportedFormatError
from digit_knower.serving.idempotency import IdempotencyKeyReusedError
from digit_knower.settings import get_settings
from digit_knower.store import (
    DatabaseError,
    InvalidLabelError,
    SchemaOutOfDateError,
    UnknownPredictionError,
)
from digit_knower.store.errors import LocalStorageFullError
from digit_knower.store.label_limit import LabelRateLimitedError

logger = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ValidationIssue(BaseModel):
    loc: list[str | int] = Field(description="Where the problem is, e.g. ['body', 'label'].")
    msg: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(default="about:blank", description="Problem type; 'about:blank' means: see status.")
    title: str = Field(description="The HTTP status phrase.")
    status: int
    detail: str = Field(description="What went wrong, in words a person can act on.")
    instance: str | None = Field(default=None, description="The request path.")
    errors: list[ValidationIssue] | None = Field(default=None, description="Each invalid field (422 only).")


class ProblemError(Exception):
    """Raised by API code to answer with a problem document."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


# The core's and the store's errors, and the status each answers with (the most specific class
# that is listed decides). Their messages are written for the person who sent the request.
STATUS_OF: dict[type[Exception], int] = {
    EmptyImageError: 400,
    InvalidImageError: 400,
    # A picture, in a format not read here: 415 whatever type it was sent as (RFC 9110 allows
    # "inspecting the data directly").
    UnsupportedFormatError: 415,
    IdempotencyKeyReusedError: 422,
    UnknownPredictionError: 404,
    InvalidLabelError: 422,
}


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: Mapping[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    body = Problem(
        title=HTTPStatus(status).phrase, status=status, detail=detail, instance=instance, errors=errors
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE
    )


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries declaring problem documents for these statuses."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _describe_validation(errors: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    # Only loc/msg/type: the raw `input` and `ctx` may hold bytes or exceptions that are not JSON.
    issues = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
        for e in errors
    ]
    parts = [f"{'.'.join(str(p) for p in i['loc']) or 'request'}: {i['msg']}" for i in issues[:5]]
    more = f" (and {len(issues) - 5} more)" if len(issues) > 5 else ""
    return "; ".join(parts) + more, issues


def _json_failure(cause: BaseException) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return f"it is not UTF-8 text ({cause.reason})"
    if isinstance(cause, RecursionError):
        return "it is nested too deeply"
    return str(cause)


def _allowed_methods(request: Request) -> str:
    # Starlette names only the first route matching the path, while several may share it;
    # the OpenAPI document lists them all.
    path = request.url.path
    methods = {
        method.upper()
        for template, operations in request.app.openapi()["paths"].items()
        if compile_path(template)[0].match(path)
        for method in operations
    }
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(exc.status, exc.detail, instance=request.url.path, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail, issues = _describe_validation(list(exc.errors()))
        return problem_response(422, detail, instance=request.url.path, errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status, detail, headers = exc.status_code, str(exc.detail), exc.headers
        if status == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
            detail = f"{request.url.path} is not an endpoint of this API"
            if get_settings().api_docs:
                detail += "; the endpoints are listed at /docs"
        elif status == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's answer to a JSON body it cannot even decode (not UTF-8, nested too deeply,
            # an integer of thousands of digits): malformed JSON, like the rest.
            status, detail = 422, f"The body is not valid JSON: {_json_failure(exc.__cause__)}"
        elif status == 405:
            allowed = _allowed_methods(request)
            headers = {**(headers or {}), "Allow": allowed}
            detail = f"{request.method} is not allowed on {request.url.path}; allowed: {allowed}"
        return problem_response(status, detail, instance=request.url.path, headers=headers)

    async def _domain(request: Request, exc: Exception) -> JSONResponse:
        status = next(STATUS_OF[kind] for kind in type(exc).__mro__ if kind in STATUS_OF)
        return problem_response(status, str(exc), instance=request.url.path)

    for error in STATUS_OF:
        app.add_exception_handler(error, _domain)

    @app.exception_handler(LabelRateLimitedError)
    async def _too_many(request: Request, exc: LabelRateLimitedError) -> JSONResponse:
        retry_after = str(max(1, math.ceil(exc.retry_after_s)))
        headers = {"Retry-After": retry_after}
        return problem_response(429, str(exc), instance=request.url.path, headers=headers)

    @app.exception_handler(LocalStorageFullError)
    async def _full(request: Request, exc: LocalStorageFullError) -> JSONResponse:
        # Its own answer, not "the database is unavailable": an operator must free space or raise
        # the cap, and the database may well be fine.
        logger.error("%s %s refused: %s", request.method, request.url.path, exc)
        detail = "Local storage full: this replica cannot keep the prediction; try again shortly."
        return problem_response(503, detail, instance=request.url.path, headers={"Retry-After": "30"})

    @app.exception_handler(SchemaOutOfDateError)
    @app.exception_handler(DatabaseError)
    async def _database(request: Request, exc: DatabaseError) -> JSONResponse:
        # Predictions still work while the database is away (they wait in the outbox);
        # reads and labels need it, so they say so and invite a retry.
        logger.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        return problem_response(
            503,
            "The database is unavailable; try again in a few seconds.",
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        # The client hung up while sending its body; nobody will read this answer.
        logger.info("client disconnected during %s %s", request.method, request.url.path)
        return problem_response(400, "The client disconnected before sending the whole body.")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, never an input: the tests run with server exceptions raised, so none may reach here.
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "An internal error occurred; it has been logged.", instance=request.url.path
        )
