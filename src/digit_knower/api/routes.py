"""The endpoints. Each one is a few lines: parsing is in deps, work is in the core and the store."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from digit_knower.api.deps import (
    PREDICTION_BODY_OPENAPI,
    allowed,
    caller,
    get_services,
    image_input,
    owner_filter,
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
from digit_knower.store.api_keys import ApiKey
from digit_knower.store.label_limit import check_label_rate

ServicesDep = Annotated[Services, Depends(get_services)]
Caller = Annotated[ApiKey, Depends(caller)]

# Every /v1 route may meet a wrong API key, one without the scope, an oversized body or a
# missing database.
v1 = APIRouter(
    prefix="/v1",
    dependencies=[Depends(caller)],
    responses=problem_responses(401, 403, 413, 503),
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
    who: Annotated[ApiKey, Depends(allowed("predict"))],
    image: Annotated[ImageInput, Depends(image_input)],
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> PredictionCreated:
    key = None if idempotency_key is None else key_value(idempotency_key)
    record, replayed = await services.predict_and_log(image, key, owner=who.name)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return PredictionCreated.model_validate(record, from_attributes=True)


@v1.put(
    "/predictions/{prediction_id}/label",
    tags=["predictions"],
    summary="Say which digit a prediction really showed",
    description="A key labels its own predictions (an admin key any). A label never replaces a "
    "newer one. Each key may give DIGIT_KNOWER_LABELS_PER_MINUTE labels a minute (429 beyond, "
    "with Retry-After).",
    responses=problem_responses(404, 422, 429),
)
def set_label(
    prediction_id: uuid.UUID,
    body: LabelRequest,
    services: ServicesDep,
    who: Annotated[ApiKey, Depends(allowed("label"))],
) -> PredictionOut:
    check_label_rate(who.name)
    record = services.store.set_true_label(prediction_id, body.label, owner=owner_filter(who), by=who.name)
    return PredictionOut.model_validate(record, from_attributes=True)


@v1.delete(
    "/predictions/{prediction_id}",
    status_code=204,
    tags=["predictions"],
    summary="Delete a prediction: its picture, its answer and its label",
    description="For the key that made it, or an admin key; anyone else gets 404, as for an id "
    "that does not exist.",
    responses=problem_responses(404, 422),
)
def delete_prediction(prediction_id: uuid.UUID, services: ServicesDep, who: Caller) -> Response:
    services.store.delete_prediction(prediction_id, owner=owner_filter(who))
    return Response(status_code=204)


@v1.get(
    "/predictions",
    tags=["predictions"],
    summary="List logged predictions, newest first: the key's own, or everyone's for an admin key",
    responses=problem_responses(422),
)
def list_predictions(
    services: ServicesDep,
    who: Annotated[ApiKey, Depends(allowed("read"))],
    limit: Annotated[int, Query(ge=1, le=100, description="How many to return.")] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="How many newest to skip.")] = 0,
    labelled: Annotated[
        bool | None, Query(description="true: only labelled ones; false: only unlabelled; unset: all.")
    ] = None,
) -> PredictionPage:
    records = services.store.recent(limit=limit, offset=offset, labelled=labelled, owner=owner_filter(who))
    items = [PredictionOut.model_validate(r, from_attributes=True) for r in records]
    return PredictionPage(items=items, limit=limit, offset=offset)


@v1.get(
    "/predictions/{prediction_id}",
    tags=["predictions"],
    summary="One logged prediction: the key's own (an admin key: anyone's)",
    responses=problem_responses(404, 422),
)
def get_prediction(
    prediction_id: uuid.UUID, services: ServicesDep, who: Annotated[ApiKey, Depends(allowed("read"))]
) -> PredictionOut:
    record = services.store.get(prediction_id, owner=owner_filter(who))
    return PredictionOut.model_validate(record, from_attributes=True)


@v1.get(
    "/stats",
    tags=["monitoring"],
    summary="Accuracy on labelled predictions, per model and digit (everyone's: no drawing is shown)",
    dependencies=[Depends(allowed("read"))],
)
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
