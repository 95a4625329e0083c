"""Request dependencies: the process' services, the API key check, and the image in a POST body."""

from __future__ import annotations

import json
import secrets
from typing import Any

import numpy as np
from fastapi import Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from digit_knower.api.errors import ProblemError
from digit_knower.api.schemas import ImageRequest, PixelsRequest
from digit_knower.api.service import ImageInput, Services
from digit_knower.settings import get_settings

# Declared in OpenAPI so clients see the header; enforced only when DIGIT_KNOWER_API_KEY is set.
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Required when the server sets DIGIT_KNOWER_API_KEY.",
)

IMAGE_PART_TYPES = {"image/png", "image/jpeg", "image/jpg", "application/octet-stream", ""}

PREDICTION_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One picture of one digit, in any of three forms (at most 2 MB).",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "A PNG or JPEG file."}
                    },
                },
                "encoding": {"file": {"contentType": "image/png, image/jpeg"}},
            },
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/ImageRequest"},
                        {"$ref": "#/components/schemas/PixelsRequest"},
                    ]
                }
            },
        },
    }
}


# The two dependencies below are `async` although they never await: a plain `def` would cost
# each request two trips through the thread pool, on the hot path of POST /v1/predictions.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def require_api_key(api_key: str | None = Security(api_key_header)) -> None:
    expected = get_settings().api_key
    if not expected:
        return
    if api_key is None or not secrets.compare_digest(api_key.encode(), expected.encode()):
        raise ProblemError(
            401,
            "Missing or wrong API key: send it in the X-API-Key header.",
            headers={"WWW-Authenticate": "X-API-Key"},
        )


async def image_input(request: Request) -> ImageInput:
    """The picture in a POST /v1/predictions body, whichever of the three forms it came in."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == "multipart/form-data":
        return await _from_multipart(request)
    if media_type == "application/json" or media_type.endswith("+json"):
        return _from_json(await request.body())
    raise ProblemError(
        415,
        f"Unsupported Content-Type {media_type or '(none)'!r}: send multipart/form-data with a 'file' "
        "part, or application/json with 'image' (base64) or 'pixels' (28x28).",
    )


async def _from_multipart(request: Request) -> bytes:
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ProblemError(422, "The multipart body needs a 'file' part holding a PNG or JPEG image.")
        part_type = (upload.content_type or "").split(";", 1)[0].strip().lower()
        if part_type not in IMAGE_PART_TYPES:
            raise ProblemError(
                415, f"The 'file' part is {part_type!r}; upload a PNG (image/png) or JPEG (image/jpeg)."
            )
        return await upload.read()


def _from_json(body: bytes) -> ImageInput:
    try:
        data = json.loads(body)
    except ValueError as exc:  # bad syntax, not UTF-8, or an integer of thousands of digits
        raise ProblemError(422, f"The body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ProblemError(422, "The body is not valid JSON: it is nested too deeply") from exc
    if not isinstance(data, dict) or not ({"image", "pixels"} & data.keys()):
        raise ProblemError(
            422,
            'The JSON body needs either "image" (base64 of a PNG or JPEG) or "pixels" '
            "(28 rows of 28 integers 0-255).",
        )
    try:
        if "image" in data:
            return ImageRequest.model_validate(data).image_bytes()
        pixels = PixelsRequest.model_validate(data).pixels
    except ValidationError as exc:
        # Same shape as FastAPI's own body errors, so clients handle one kind of 422.
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in errors]) from exc
    except ValueError as exc:
        raise ProblemError(422, str(exc)) from exc
    return np.asarray(pixels, dtype=np.uint8)
