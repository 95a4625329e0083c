"""Request dependencies: the process' services, who is calling (their key and its scopes), and
the image in a POST body."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials
from pydantic import ValidationError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from digit_knower.api.errors import ProblemError
from digit_knower.api.schemas import ImageRequest, PixelsRequest
from digit_knower.serving.startup import ImageInput, Services
from digit_knower.settings import get_settings
from digit_knower.store.api_keys import ANONYMOUS_KEY, ApiKey, KeyRing

# Declared in OpenAPI so clients see the header; enforced once the server has a key.
api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="Required when the server sets DIGIT_KNOWER_API_KEY or has keys made by "
    "`digit-knower keys create`. A key's scopes say what it may do: predict, label (its own "
    "predictions), read (its own predictions, and the statistics), admin (everything).",
)

PREDICTION_BODY_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": (
            "One picture of one digit, in any of three forms (at most 2 MB). Pictures are PNG, JPEG "
            "or WebP, told apart by their bytes whatever type they are sent as; other picture "
            "formats get 415."
        ),
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A PNG, JPEG or WebP file.",
                        }
                    },
                },
                "encoding": {"file": {"contentType": "image/png, image/jpeg, image/webp"}},
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


async def caller(request: Request, api_key: str | None = Security(api_key_header)) -> ApiKey:
    """The key the request came with; 401 when the server needs one and this is not one. With no
    key anywhere (a local demo), every caller is ANONYMOUS: an admin whose labels are not trusted.

    A key seen in the last few seconds costs a dictionary look-up (`KeyRing`); only a look-up that
    needs the database goes to a thread, so that the event loop never waits for it."""
    ring = _key_ring(request)
    key = await _key_of(ring, api_key)
    if key is not None:
        return key
    if not await _keys_required(ring):
        return ANONYMOUS_KEY
    raise ProblemError(
        401,
        "Missing or wrong API key: send it in the X-API-Key header.",
        headers={"WWW-Authenticate": "X-API-Key"},
    )


async def _key_of(ring: KeyRing, token: str | None) -> ApiKey | None:
    """The active key `token` is, or None; only a look-up that needs the database goes to a thread."""
    if not token:
        return None
    known, key = ring.known(token)
    return key if known else await run_in_threadpool(ring.find, token)


async def _keys_required(ring: KeyRing) -> bool:
    required = ring.required_known()
    return required if required is not None else await run_in_threadpool(ring.required)


def allowed(scope: str) -> Callable[..., Awaitable[ApiKey]]:
    """A dependency: the caller, when its key has `scope` (or admin); else 403."""

    async def check(key: Annotated[ApiKey, Depends(caller)]) -> ApiKey:
        if not key.allows(scope):
            granted = ", ".join(sorted(key.scopes))
            raise ProblemError(403, f"The key {key.name!r} has the scopes {granted}, not {scope!r}.")
        return key

    return check


def owner_filter(key: ApiKey) -> str | None:
    """Whose predictions the caller may see, label and delete: its own; None (everyone's) for an admin."""
    return None if key.is_admin else key.name


def _key_ring(request: Request) -> KeyRing:
    ring: KeyRing | None = getattr(request.app.state, "key_ring", None)
    if ring is None:
        ring = KeyRing(request.app.state.services.store, get_settings().api_key)
        request.app.state.key_ring = ring
    return ring


def key_or_password(realm: str, refusal: str, scope: str | None = None) -> Callable[..., Awaitable[None]]:
    """A dependency for what a browser or Prometheus opens, which cannot always add an X-API-Key
    header: where the API needs keys, a key (DIGIT_KNOWER_API_KEY, or one made by `digit-knower keys
    create` with `scope`, or any scope when None) in X-API-Key, or as the password of HTTP Basic
    authentication in `realm` (any user name); else 401 with `refusal`, or 403 for a key without
    the scope."""
    basic_auth = HTTPBasic(auto_error=False, realm=realm)

    # Defaults, not Annotated: FastAPI reads the (postponed) annotations in the module's globals,
    # where this closure's `basic_auth` does not stand.
    async def check(
        request: Request,
        api_key: str | None = Security(api_key_header),
        basic: HTTPBasicCredentials | None = Security(basic_auth),  # noqa: B008 (see above)
    ) -> None:
        ring = _key_ring(request)
        key = await _key_of(ring, api_key) or await _key_of(ring, basic.password if basic else None)
        if key is None and not await _keys_required(ring):
            return
        if key is None:
            raise ProblemError(
                401, refusal, headers={"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"'}
            )
        if scope is not None and not key.allows(scope):
            granted = ", ".join(sorted(key.scopes))
            raise ProblemError(403, f"The key {key.name!r} has the scopes {granted}, not {scope!r}.")

    return check


# The docs and the OpenAPI document: a browser asks for the password.
require_docs_access = key_or_password(
    "Digit Knower API docs",
    "The API documentation needs an API key: send it in the X-API-Key header, or give it as "
    "the password when the browser asks (any user name).",
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
    """The 'file' part's bytes. Its declared type is not checked: the decoder reads the format
    from the bytes themselves, so that what is read is what is refused or accepted."""
    _check_complete_multipart(request.headers["content-type"], await request.body())
    async with request.form(max_files=1, max_fields=10) as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ProblemError(
                422, "The multipart body needs a 'file' part holding a PNG, JPEG or WebP image."
            )
        return await upload.read()


def _check_complete_multipart(content_type: str, body: bytes) -> None:
    """A 400 for a body cut off before its closing boundary: the multipart parser would quietly
    drop the unfinished part, and the client would hear that it sent no file at all."""
    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if boundary and b"--" + boundary + b"--" not in body:
        raise ProblemError(
            400,
            f"The multipart upload is truncated: it ends ({len(body):,} bytes) before its closing "
            f"boundary --{boundary.decode('latin-1')}--. Send the whole file again.",
        )


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
            'The JSON body needs either "image" (base64 of a PNG, JPEG or WebP) or "pixels" '
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
