"""The endpoints. Each one is a few lines: parsing is in deps, work is in the core and the store."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from digit_knower.api.deps import (
    PREDICTION_BODY_OPENAPI,
    get_services,
    image_input,
    require_api_key,
)
from digit_knower.api.errors import problem_responses
from digit_knower.api.schemas import (
    Health,
    LabelRequest,
    PredictionCreated,
    PredictionOut,
    PredictionPage,
    Readiness,
)
from digit_knower.serving.idempotency import key_value
from digit_knower.serving.startup import ImageInput, Services
from digit_knower.store import Stats

ServicesDep = Annotated[Services, Depends(get_services)]

# Every /v1 route may meet a wrong API key, an oversized body or a missing database.
v1 = APIRouter(
    prefix="/v1",
    dependencies=[Depends(require_api_key)],
    responses=problem_responses(401, 413, 503),
)
probes = APIRouter(tags=["probes"])


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "Any unique string (a UUID, say) naming this request, bare or quoted. A retry with the "
            "same key and the same picture gets the first answer and logs nothing new; the same "
            "key with another picture within 24 hours gets 422."
        ),
    ),
]


@v1.post(
    "/predictions",
    status_code=201,
    tags=["predictions"],
    summary="Read the digit in a picture",
    openapi_extra=PREDICTION_BODY_OPENAPI,
    responses={
        201: {
            "description": "The digit read, and the id to label it by.",
            "headers": {
                "Idempotent-Replayed": {
                    "description": "'true' when this is the answer an earlier request with the same "
                    "Idempotency-Key got; nothing new was logged.",
                    "schema": {"type": "string", "enum": ["true"]},
                }
            },
        },
        **problem_responses(400, 415, 422),
    },
)
async def create_prediction(
    services: ServicesDep,
    image: Annotated[ImageInput, Depends(image_input)],
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PredictionCreated:
    key = None if idempotency_key is None else key_value(idempotency_key)
    record, replayed = await services.predict_and_log(image, key)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return PredictionCreated.model_validate(record, from_attributes=True)


@v1.put(
    "/predictions/{prediction_id}/label",
    tags=["predictions"],
    summary="Say which digit a prediction really showed",
    responses=problem_responses(404, 422),
)
def set_label(prediction_id: uuid.UUID, body: LabelRequest, services: ServicesDep) -> PredictionOut:
    record = services.store.set_true_label(prediction_id, body.label)
    return PredictionOut.model_validate(record, from_attributes=True)


@v1.get(
    "/predictions",
    tags=["predictions"],
    summary="List logged predictions, newest first",
    responses=problem_responses(422),
)
def list_predictions(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100, description="How many to return.")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="How many newest to skip.")] = 0,
    labelled: Annotated[
        bool | None, Query(description="true: only labelled ones; false: only unlabelled; unset: all.")
    ] = None,
) -> PredictionPage:
    records = services.store.recent(limit=limit, offset=offset, labelled=labelled)
    items = [PredictionOut.model_validate(r, from_attributes=True) for r in records]
    return PredictionPage(items=items, limit=limit, offset=offset)


@v1.get(
    "/predictions/{prediction_id}",
    tags=["predictions"],
    summary="One logged prediction",
    responses=problem_responses(404, 422),
)
def get_prediction(prediction_id: uuid.UUID, services: ServicesDep) -> PredictionOut:
    return PredictionOut.model_validate(services.store.get(prediction_id), from_attributes=True)


@v1.get("/stats", tags=["monitoring"], summary="Accuracy on labelled predictions, per model and digit")
def stats(services: ServicesDep) -> Stats:
    return services.store.stats()


@v1.get("/model", tags=["monitoring"], summary="The served model's card")
def model_card(services: ServicesDep) -> dict[str, Any]:
    return services.card


@probes.head("/healthz", summary="Liveness, for probes that send HEAD: the process answers")
@probes.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> Health:
    return Health(status="ok")


# No API key on the probes: Kubernetes and load balancers cannot send one. They reveal counts and
# the model version, nothing about a record nor where the database is.
@probes.get(
    "/readyz",
    summary="Readiness: can this process answer predictions (and is anything degraded)",
    description="200 while predictions are answered and kept: the model is loaded and the local "
    "outbox can be written. A database outage does not make the API unready (predictions wait in "
    'the outbox); it shows as `"degraded": true`, with the backlog, the records meant for another '
    "database and the dead letters. 503 when the outbox cannot be written.",
    responses={
        503: {"model": Readiness, "description": "Not ready: the local outbox cannot be written."},
    },
)
def readyz(services: ServicesDep, response: Response) -> Readiness:
    readiness = Readiness(**services.readiness())
    if not readiness.ready:
        response.status_code = 503
    return readiness
