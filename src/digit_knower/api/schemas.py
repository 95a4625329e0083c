"""The request and response bodies of the REST API, as they appear in the OpenAPI document."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from digit_knower.reader.verdict import describe
from digit_knower.store.records import MODEL_INPUT_BYTES, Verdict

VERDICT_DESCRIPTION = (
    "What the picture holds: 'digit' (one digit, read with confidence), 'unsure' (probably one "
    "digit; `digit` is the best guess), 'not_a_digit' (a scribble, letter, shape or symbol) or "
    "'several_digits' (two or more digits side by side; `digits` lists them)."
)
DIGITS_DESCRIPTION = "The digits read, left to right: one for 'digit' and 'unsure', none for 'not_a_digit'."
MESSAGE_DESCRIPTION = "What the reader says, in words to show a person."

Pixel = Annotated[int, Field(strict=True, ge=0, le=255)]
PixelRow = Annotated[list[Pixel], Field(min_length=28, max_length=28)]
# A stored 28x28 picture (784 bytes, row by row, white ink on black), as base64.
Base64Picture = Annotated[str, Field(json_schema_extra={"contentEncoding": "base64"})]


class ImageRequest(BaseModel):
    """A PNG, JPEG or WebP picture of one digit, base64-encoded (a `data:` URL prefix is allowed)."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(
        description="Base64 of the PNG, JPEG or WebP bytes, e.g. a canvas' toDataURL() output.",
        json_schema_extra={"contentEncoding": "base64", "contentMediaType": "image/png"},
    )

    def image_bytes(self) -> bytes:
        """The decoded picture; a ValueError (shown as 422) when it is not base64."""
        text = self.image
        if text.startswith("data:") and "," in text:
            text = text.split(",", 1)[1]
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(
                f"'image' is not valid base64 ({exc}); send base64 of PNG, JPEG or WebP bytes"
            ) from exc


class PixelsRequest(BaseModel):
    """The 28x28 grey levels of a digit, row by row, 0-255 (either ink colour works)."""

    model_config = ConfigDict(extra="forbid")

    pixels: Annotated[list[PixelRow], Field(min_length=28, max_length=28)] = Field(
        description="28 rows of 28 integers from 0 to 255."
    )


class LabelRequest(BaseModel):
    """The digit the drawing really shows."""

    model_config = ConfigDict(extra="forbid")

    label: int = Field(strict=True, ge=0, le=9, description="The true digit, 0-9.")


class PredictionCreated(BaseModel):
    """What the model read, and the id to label it by later."""

    id: uuid.UUID
    digit: int = Field(ge=0, le=9)
    confidence: float = Field(ge=0, le=1, description="The probability of `digit`.")
    probabilities: list[float] = Field(min_length=10, max_length=10, description="One per digit 0-9.")
    model_version: str
    latency_ms: float = Field(ge=0, description="Time to decode, preprocess and run the model.")
    verdict: Verdict = Field(description=VERDICT_DESCRIPTION)
    digits: list[int] = Field(description=DIGITS_DESCRIPTION)

    @computed_field(description=MESSAGE_DESCRIPTION, examples=["Probably a 4; it could be a 9."])  # type: ignore[prop-decorator]
    @property
    def message(self) -> str:
        return describe(self.verdict, self.digits, self.probabilities)


class PredictionOut(BaseModel):
    """A logged prediction, with its true label once someone has given it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    source: str = Field(
        description="Where it came from: 'web' (drawn on the page), 'upload' (a picture uploaded on the "
        "page) or 'api'. Uploads logged by versions before uploads were told apart say 'web'."
    )
    model_version: str
    digit: int
    confidence: float
    probabilities: list[float]
    model_input: str | None = Field(
        description="Base64 of the 784 bytes (28x28, row by row, white ink on black) the model saw; "
        "null once retention dropped the picture (DIGIT_KNOWER_RETENTION_DAYS, `db prune`).",
        json_schema_extra={"contentEncoding": "base64"},
    )
    latency_ms: float
    true_label: int | None
    labelled_at: datetime | None
    verdict: Verdict | None = Field(
        description=VERDICT_DESCRIPTION + " Null for predictions logged before verdicts."
    )
    digits: list[int] | None = Field(
        description=DIGITS_DESCRIPTION + " Null for predictions logged before verdicts."
    )
    owner: str | None = Field(
        default=None,
        description="Who made it: the API key's name, or 'page:<session>' for the web page. Null for "
        "predictions logged before owners were kept.",
    )
    part_inputs: list[Base64Picture] | None = Field(
        default=None,
        description="For 'several_digits': what the model saw of each digit, left to right, each as "
        "`model_input` is (base64 of 784 bytes; the first is `model_input`). Null for one digit, for "
        "predictions logged before every digit's picture was kept, and once retention dropped the "
        "pictures.",
    )

    @computed_field(description=MESSAGE_DESCRIPTION)  # type: ignore[prop-decorator]
    @property
    def message(self) -> str:
        return describe(self.verdict, self.digits, self.probabilities)

    @field_validator("model_input", mode="before")
    @classmethod
    def _base64(cls, value: Any) -> Any:
        if isinstance(value, bytes | bytearray | memoryview):
            return base64.b64encode(bytes(value)).decode("ascii")
        return value

    @field_validator("part_inputs", mode="before")
    @classmethod
    def _each_part_base64(cls, value: Any) -> Any:
        # Stored as one run of 784-byte pictures; a client gets one base64 string a digit.
        if isinstance(value, bytes | bytearray | memoryview):
            whole = bytes(value)
            return [
                base64.b64encode(whole[start : start + MODEL_INPUT_BYTES]).decode("ascii")
                for start in range(0, len(whole), MODEL_INPUT_BYTES)
            ]
        return value


class PredictionPage(BaseModel):
    items: list[PredictionOut] = Field(description="Newest first.")
    limit: int
    offset: int


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    """Whether this process can answer predictions, and what is degraded meanwhile."""

    ready: bool = Field(
        description="The model is loaded and the outbox can be written: predictions are answered "
        "and kept, whatever the database's state. False answers 503."
    )
    degraded: bool = Field(
        description="Something needs attention although predictions are answered: the database "
        "cannot be reached, or records wait in the outbox (for this database or another), or "
        "some were set aside as dead letters."
    )
    model_loaded: bool
    model_version: str | None
    outbox_writable: bool = Field(
        description="A prediction could be queued in the local outbox now: a real write in its "
        "folder succeeded, with room to spare, below the outbox's cap."
    )
    local_storage_full: bool = Field(
        default=False,
        description="The outbox is at its cap (DIGIT_KNOWER_OUTBOX_MAX_MB) or its disk is (nearly) "
        "full: predictions the database cannot take now get 503 'local storage full'.",
    )
    detail: str | None = Field(
        default=None,
        description="Why the outbox cannot be written, in a few words (no path): e.g. 'local storage "
        "full'. Null when it can.",
    )
    database_reachable: bool = Field(
        description="The database answered just now (while it is backing off after a failure: false)."
    )
    outbox_backlog: int = Field(
        description="Records (predictions, labels, model cards) waiting in the local outbox for this "
        "database; they are written within seconds of it taking writes again."
    )
    outbox_foreign: int = Field(
        description="Records in the outbox meant for another database (the state folder was used "
        "with another DATABASE_URL): kept, never written here. See `digit-knower db outbox list`."
    )
    outbox_dead_letters: int = Field(
        description="Records the database refused for good, set aside in the outbox file. See "
        "`digit-knower db outbox list`, then retry or drop them."
    )
