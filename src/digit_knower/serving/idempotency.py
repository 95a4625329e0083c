"""Idempotent predictions: a retry with the same Idempotency-Key gets the first answer and logs
nothing new.

A client whose POST lost its answer (a reset, a timeout, a proxy that gave up) cannot know whether
the prediction was logged; sending the same request again used to log it twice. With a key:

- The prediction's id is derived from the key and the picture (a UUIDv8 made of their SHA-256),
  so every attempt at the same request writes the same id, and the store skips an id it holds
  already. Whatever happens (two attempts at once in two workers, the database down and the first
  attempt waiting in the outbox, a crash between the two) the log holds the prediction once.
- The first answer is the logged prediction, so a retry that finds it returns it as it was.
- The key is bound to its picture in the database for 24 hours (store.idempotency_keys), so the
  same key with another picture is refused (422) rather than taken for a retry. While the database
  is down this check is skipped: the prediction is still logged once.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from typing import TYPE_CHECKING

import numpy as np

from digit_knower.serving import metrics
from digit_knower.serving.predict_and_log import new_record, predict_async
from digit_knower.store import DatabaseUnavailableError, PredictionRecord, Store, UnknownPredictionError
from digit_knower.store.idempotency_keys import IdempotencyKeys

if TYPE_CHECKING:
    from digit_knower.reader.predictor import Predictor
    from digit_knower.store.records import Source

# RFC 9562's namespace-free UUIDv8: 122 bits of the hash, then the version and the variant.
_VERSION_8 = 0x8 << 76
_VARIANT = 0b10 << 62


class IdempotencyKeyReusedError(ValueError):
    """The key came with another picture within its 24 hours."""


def picture_sha256(image: bytes | np.ndarray) -> str:
    """The picture's fingerprint: the SHA-256 of its file's bytes, or of its pixels and shape."""
    digest = hashlib.sha256()
    if isinstance(image, np.ndarray):
        digest.update(repr((image.shape, image.dtype.str)).encode())
        image = np.ascontiguousarray(image).tobytes()
    digest.update(image)
    return digest.hexdigest()


def prediction_id(key: str, picture: str) -> uuid.UUID:
    """The id every attempt at (key, picture) logs its prediction under."""
    digest = int.from_bytes(hashlib.sha256(f"{key}\n{picture}".encode()).digest()[:16], "big")
    clear = ~((0xF << 76) | (0b11 << 62)) & ((1 << 128) - 1)
    return uuid.UUID(int=(digest & clear) | _VERSION_8 | _VARIANT)


def key_value(header: str) -> str:
    """The key, as sent bare or as a quoted string (the IETF draft's form: "8e03978e-...")."""
    if len(header) >= 2 and header[0] == header[-1] == '"':
        return header[1:-1]
    return header


async def predict_and_log_once_async(
    predictor: Predictor,
    store: Store,
    keys: IdempotencyKeys,
    image: bytes | np.ndarray,
    *,
    key: str,
    source: Source,
    owner: str | None = None,
) -> tuple[PredictionRecord, bool]:
    """Read and log `image` under `key`: (the record, True when it is an earlier attempt's).

    A picture that cannot be read raises its error before the key is bound: the key stays free
    for the corrected picture.
    """
    started = time.perf_counter()
    prediction = await predict_async(predictor, image)
    picture = picture_sha256(image)
    record_id = prediction_id(key, picture)
    binding = await asyncio.to_thread(keys.bind, key, picture, record_id)
    if binding is not None and binding.picture_sha256 != picture:
        raise IdempotencyKeyReusedError(
            f"The Idempotency-Key {key!r} was first sent with another picture; a retry must send the "
            "same picture, and a new request needs a new key."
        )
    first = await asyncio.to_thread(_logged, store, record_id)
    if first is not None:
        return first, True
    record = new_record(prediction, started, source, record_id, owner=owner)
    await store.log_prediction_async(record)
    metrics.count_prediction(prediction, source)  # a replay logs nothing new, and counts nothing
    return record, False


def _logged(store: Store, record_id: uuid.UUID) -> PredictionRecord | None:
    """The prediction logged under this id (in the database, or waiting in this process's outbox)."""
    try:
        return store.get(record_id)
    except (UnknownPredictionError, DatabaseUnavailableError):
        return None
