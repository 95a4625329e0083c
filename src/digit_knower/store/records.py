"""What the store takes and gives back: pydantic models that the API also returns as JSON.

`model_input` (784 bytes) and `part_inputs` (784 bytes a digit) travel as base64 in JSON, so any
byte value survives the round trip.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from digit_knower.store.ids import uuid7

MODEL_INPUT_SIDE = 28
MODEL_INPUT_BYTES = MODEL_INPUT_SIDE * MODEL_INPUT_SIDE
# The most digits one prediction may list (`digits`), so the most 28x28 parts it may keep.
MAX_DIGITS = 64

# Where a prediction came from: the page's canvas, the page's uploader, or the API.
Source = Literal["web", "upload", "api"]
Digit = Annotated[int, Field(ge=0, le=9)]
# The reader's verdicts (digit_knower.reader.predictor.Verdict); rows logged before verdicts existed
# have none.
Verdict = Literal["digit", "unsure", "not_a_digit", "several_digits"]


def _to_utc(value: datetime) -> datetime:
    # SQLite keeps wall-clock text without a zone, so every timestamp is stored as UTC.
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]


class PredictionRecord(BaseModel):
    """One prediction as logged: what was seen, what was answered, and what it really was."""

    model_config = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

    id: uuid.UUID = Field(description="UUIDv7 made by the client; a retry with the same id is a no-op")
    created_at: UtcDatetime
    source: Source
    model_version: str = Field(min_length=1, max_length=64)
    digit: Digit
    confidence: float = Field(ge=0.0, le=1.0, allow_inf_nan=False)
    probabilities: list[Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]] = Field(
        min_length=10, max_length=10
    )
    model_input: bytes | None = Field(
        min_length=MODEL_INPUT_BYTES,
        max_length=MODEL_INPUT_BYTES,
        description="the 28x28 uint8 picture the model saw, row-major, white ink on black (base64 in "
        "JSON); null once retention pruned it",
    )
    latency_ms: float = Field(ge=0.0, allow_inf_nan=False)
    true_label: Digit | None = None
    labelled_at: UtcDatetime | None = None
    verdict: Verdict | None = Field(
        default=None, description="what the reader made of the picture; null for rows logged before verdicts"
    )
    digits: list[Digit] | None = Field(
        default=None,
        max_length=MAX_DIGITS,
        description="the digits read, left to right; null for rows logged before verdicts",
    )
    owner: str | None = Field(
        default=None,
        max_length=100,
        description="who made it: an API key's name, 'page:<session>' for the page; null for rows "
        "logged before owners were kept",
    )
    labelled_by: str | None = Field(default=None, max_length=100, description="who gave the label")
    part_inputs: bytes | None = Field(
        default=None,
        min_length=MODEL_INPUT_BYTES,
        max_length=MAX_DIGITS * MODEL_INPUT_BYTES,
        description="for several digits, the 28x28 picture the model saw of each digit, left to "
        "right, one after the other (784 bytes each; base64 in JSON); null for one digit, for rows "
        "logged before they were kept, and once retention pruned the pictures",
    )

    @field_validator("probabilities")
    @classmethod
    def _sums_to_one(cls, value: list[float]) -> list[float]:
        if not math.isclose(sum(value), 1.0, abs_tol=1e-3):
            raise ValueError(f"the ten probabilities must sum to 1, not {sum(value):.6f}")
        return value

    @field_validator("part_inputs")
    @classmethod
    def _whole_pictures(cls, value: bytes | None) -> bytes | None:
        if value is not None and len(value) % MODEL_INPUT_BYTES:
            raise ValueError(f"the parts must be whole 28x28 pictures of 784 bytes, not {len(value)} bytes")
        return value

    @model_validator(mode="after")
    def _a_picture_for_each_digit(self) -> PredictionRecord:
        # The History shows what the model saw of each digit it read: one picture a digit, no more.
        if self.part_inputs is None:
            return self
        pictures, digits = len(self.part_inputs) // MODEL_INPUT_BYTES, len(self.digits or ())
        if pictures != digits:
            raise ValueError(
                f"part_inputs holds {pictures} pictures for {digits} digits: one picture a digit"
            )
        return self

    @classmethod
    def from_prediction(
        cls,
        prediction: Any,
        *,
        source: Source,
        latency_ms: float,
        at_ns: int | None = None,
        owner: str | None = None,
    ) -> PredictionRecord:
        """A new record, with a fresh UUIDv7, for a `digit_knower.Prediction`."""
        picture = _input_bytes(prediction.model_input)
        # Several digits: every digit's picture, not only the first one's (which is `model_input`).
        parts = getattr(prediction, "parts", ())
        ns = time.time_ns() if at_ns is None else at_ns
        return cls(
            id=uuid7(ns),
            created_at=datetime.fromtimestamp(ns / 1e9, UTC),
            source=source,
            model_version=prediction.model_version,
            digit=int(prediction.digit),
            confidence=float(prediction.confidence),
            probabilities=[float(p) for p in prediction.probabilities],
            model_input=picture,
            latency_ms=float(latency_ms),
            verdict=prediction.verdict,
            digits=[int(d) for d in prediction.digits],
            owner=owner,
            part_inputs=b"".join(_input_bytes(p.model_input) for p in parts) if parts else None,
        )

    def model_input_array(self) -> Any:
        """The model input as a (28, 28) uint8 numpy array, e.g. to turn drawings into training data.
        ValueError once retention pruned the picture."""
        import numpy as np

        if self.model_input is None:
            raise ValueError(f"the picture of prediction {self.id} was pruned (retention)")
        return np.frombuffer(self.model_input, dtype=np.uint8).reshape(MODEL_INPUT_SIDE, MODEL_INPUT_SIDE)

    def part_input_arrays(self) -> list[Any]:
        """What the model saw of each digit, left to right, as (28, 28) uint8 numpy arrays: one for
        each of several digits; only `model_input` for one digit, a row logged before the parts
        were kept, or (none) once retention pruned the pictures."""
        import numpy as np

        if self.part_inputs is not None:
            side = (MODEL_INPUT_SIDE, MODEL_INPUT_SIDE)
            return list(np.frombuffer(self.part_inputs, dtype=np.uint8).reshape(-1, *side))
        return [] if self.model_input is None else [self.model_input_array()]

    def with_label(self, label: int, labelled_at: datetime, by: str | None = None) -> PredictionRecord:
        update = {"true_label": label, "labelled_at": _to_utc(labelled_at), "labelled_by": by}
        return self.model_copy(update=update)


def _input_bytes(model_input: Any) -> bytes:
    """A 28x28 model input as its 784 bytes, row by row; ValueError for any other shape."""
    import numpy as np

    picture = np.asarray(model_input)
    if picture.shape != (MODEL_INPUT_SIDE, MODEL_INPUT_SIDE):
        raise ValueError(f"model_input must be 28x28, not {picture.shape}")
    return np.ascontiguousarray(picture, dtype=np.uint8).tobytes()


def _accuracy(correct: int, labelled: int) -> float | None:
    return correct / labelled if labelled else None


class ModelStats(BaseModel):
    model_version: str
    predictions: int = Field(description="all predictions made by this model, labelled or not")
    labelled: int
    correct: int
    accuracy: float | None = Field(description="correct / labelled; null while nothing is labelled")


class DigitStats(BaseModel):
    digit: Digit = Field(description="the true label")
    labelled: int
    correct: int
    accuracy: float | None = Field(description="share of the drawings of this digit read correctly")


# Verdicts whose prediction was read as one digit: they count toward the accuracy. (Rows logged
# before verdicts, with none, were all read as one digit.)
READ_AS_ONE_DIGIT = frozenset({"digit", "unsure", None})


class Stats(BaseModel):
    """Live metrics over the labelled predictions.

    The accuracy counts the labelled predictions read as one digit (verdict "digit" or "unsure",
    or logged before verdicts); those the reader turned away as no digit, or read as several
    digits, are counted apart, in `rejected`.
    """

    total: int
    labelled: int = Field(description="labelled predictions read as one digit: the accuracy's base")
    correct: int
    accuracy: float | None
    rejected: int = Field(
        description="labelled predictions the reader called 'not_a_digit' or 'several_digits': "
        "not in the accuracy"
    )
    per_verdict: dict[str, int] = Field(
        description="all predictions by verdict; 'none' for those logged before verdicts existed"
    )
    per_model: list[ModelStats]
    per_digit: list[DigitStats]
    confusion: list[list[int]] = Field(description="10x10 counts: rows = true label, columns = predicted")

    @classmethod
    def from_counts(cls, counts: list[tuple[str, int | None, int, str | None, int]]) -> Stats:
        """Every figure from (model_version, true_label or None, predicted digit, verdict, count) groups."""
        confusion = [[0] * 10 for _ in range(10)]
        per_model: dict[str, list[int]] = {}  # version -> [predictions, labelled, correct]
        per_verdict: dict[str, int] = {}
        rejected = 0
        for version, true_label, digit, verdict, n in counts:
            tally = per_model.setdefault(version, [0, 0, 0])
            tally[0] += n
            per_verdict[verdict or "none"] = per_verdict.get(verdict or "none", 0) + n
            if true_label is None:
                continue
            if verdict not in READ_AS_ONE_DIGIT:
                rejected += n
                continue
            confusion[true_label][digit] += n
            tally[1] += n
            tally[2] += n if true_label == digit else 0
        labelled = sum(map(sum, confusion))
        correct = sum(confusion[d][d] for d in range(10))
        return cls(
            total=sum(t[0] for t in per_model.values()),
            labelled=labelled,
            correct=correct,
            accuracy=_accuracy(correct, labelled),
            rejected=rejected,
            per_verdict=dict(sorted(per_verdict.items())),
            per_model=[
                ModelStats(
                    model_version=v, predictions=p, labelled=lab, correct=c, accuracy=_accuracy(c, lab)
                )
                for v, (p, lab, c) in sorted(per_model.items())
            ],
            per_digit=[
                DigitStats(
                    digit=d,
                    labelled=sum(confusion[d]),
                    correct=confusion[d][d],
                    accuracy=_accuracy(confusion[d][d], sum(confusion[d])),
                )
                for d in range(10)
            ],
            confusion=confusion,
        )


class ModelCardSummary(BaseModel):
    """The model card fields kept as columns; the whole card is stored beside them."""

    model_config = ConfigDict(extra="ignore", protected_namespaces=())

    version: str = Field(min_length=1, max_length=64)
    created_at: datetime | None = None
    architecture: str | None = None
    parameters: int | None = None
    test_accuracy: float | None = None
    val_accuracy: float | None = None
    per_class_accuracy: list[float] | None = None
    hyperparameters: dict[str, Any] | None = None
    train_seconds: float | None = None
    data_sha256: dict[str, Any] | None = None

    @field_validator("created_at")
    @classmethod
    def _assume_utc(cls, value: datetime | None) -> datetime | None:
        # Cards written without a zone were written by `train` in UTC.
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value
