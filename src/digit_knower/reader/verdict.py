"""From the network's outputs to what the reader says: a digit, unsure, not a digit, several digits.

The network gives eleven logits for each 28x28 input: the ten digits, then "not a digit" (a
model trained before the eleventh class existed gives ten, and can then say "unsure" but never
"not a digit"). Its temperature is inside the ONNX graph, so a softmax gives calibrated
probabilities: of the ten digits, given that it is one (`probabilities`, `confidence`), and of
"not a digit" among all eleven.

The two thresholds come from the model card: training picks them on the validation split (never
the test set), so that few real drawings of digits are turned away while most scribbles are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
from numpy.typing import NDArray

from digit_knower.reader.classes import DIGITS, NOT_A_DIGIT, softmax

Verdict = Literal["digit", "unsure", "not_a_digit", "several_digits"]
VERDICTS: Final[tuple[Verdict, ...]] = ("digit", "unsure", "not_a_digit", "several_digits")

# For a model card without the reader's thresholds (a model made before verdicts): say
# "unsure" below an even chance, and never "not a digit" (such a model cannot tell).
DEFAULT_UNSURE_BELOW: Final = 0.5


@dataclass(frozen=True)
class Thresholds:
    """The reader's two thresholds: training picks them (`training.calibrate.pick_thresholds`) and
    writes them into the model card, the reader reads them back from it."""

    not_a_digit_from: float = 1.0  # P(not a digit) at or above this: not a digit
    unsure_below: float = DEFAULT_UNSURE_BELOW  # the digit's probability below this: unsure

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> Thresholds:
        reader = card.get("reader") or {}
        return cls(
            not_a_digit_from=float(reader.get("not_a_digit_threshold", 1.0)),
            unsure_below=float(reader.get("unsure_threshold", DEFAULT_UNSURE_BELOW)),
        )

    def card_fields(self) -> dict[str, float]:
        """The entries of the card's "reader" section that `from_card` reads back."""
        return {"not_a_digit_threshold": self.not_a_digit_from, "unsure_threshold": self.unsure_below}


@dataclass(frozen=True)
class Reading:
    """What the network says of one 28x28 input."""

    digit: int
    confidence: float  # the digit's probability, given that the input is a digit
    probabilities: tuple[float, ...]  # the ten digits' probabilities, summing to 1
    not_a_digit: float  # the probability that the input is no digit at all (0 for a 10-class model)
    verdict: Verdict  # "digit", "unsure" or "not_a_digit"


def read(logits: NDArray[np.floating], thresholds: Thresholds) -> list[Reading]:
    """One Reading per row of logits (N, 10) or (N, 11)."""
    digits = softmax(logits[:, :DIGITS])
    not_a_digit = softmax(logits)[:, NOT_A_DIGIT] if logits.shape[1] > DIGITS else np.zeros(len(logits))
    best = digits.argmax(axis=1)
    return [
        Reading(
            digit=int(digit),
            confidence=float(row[digit]),
            probabilities=tuple(row.tolist()),
            not_a_digit=float(outlier),
            verdict=_single_verdict(float(row[digit]), float(outlier), thresholds),
        )
        for digit, row, outlier in zip(best, digits, not_a_digit, strict=True)
    ]


def _single_verdict(confidence: float, not_a_digit: float, thresholds: Thresholds) -> Verdict:
    if not_a_digit >= thresholds.not_a_digit_from:
        return "not_a_digit"
    if confidence < thresholds.unsure_below:
        return "unsure"
    return "digit"


def several_digits(whole: Reading, parts: Sequence[Reading], clearly_apart: bool) -> bool:
    """Whether a drawing cut into `parts` (see `segment`) shows several digits side by side.

    Every part must read as a digit on its own. Where a gap is narrow enough to be a single
    digit's own (an open "4", a "5" whose bar came loose), the drawing as a whole must not read as
    one digit either: such a digit does, whole, while two digits side by side, shrunk together
    into one 28x28 input, read as no digit. A gap plainly wider than any digit's is enough.
    """
    if len(parts) < 2 or any(p.verdict != "digit" for p in parts):
        return False
    return clearly_apart or whole.verdict != "digit"


def article(digit: int) -> str:
    """The article before a digit's name: "an 8" (eight starts with a vowel sound), "a" for the rest."""
    return "an" if digit == 8 else "a"


# Words, not verdicts: the thresholds above decide what the reader says; these only decide how
# plainly it is said. A calibrated 57% is wrong about four times in ten, so below SURE_FROM the
# answer is "probably", never a flat "It's a 4.". At or above it, at most one in ten is wrong.
SURE_FROM: Final = 0.9
# The runner-up is named ("it could be a 9") when it is at least this share of the top digit's
# probability: at a third, the person should not rule it out (57% against 43% is named; 80%
# against 10% is not, where a mention would only add noise).
CLOSE_RUNNER_UP: Final = 1 / 3


def ranked(probabilities: Sequence[float], count: int = 10) -> list[tuple[int, float]]:
    """The `count` likeliest digits with their probabilities, likeliest first (ties: lower digit)."""
    order = sorted(range(len(probabilities)), key=lambda d: (-probabilities[d], d))
    return [(d, float(probabilities[d])) for d in order[:count]]


def named(digit: int) -> str:
    """A digit with its article: "a 4", "an 8"."""
    return f"{article(digit)} {digit}"


def describe(verdict: Verdict | None, digits: Sequence[int] | None, probabilities: Sequence[float]) -> str:
    """What the reader says, in words a person understands: the page shows it, the API returns it.

    The verdict (from the reader's thresholds) picks the kind of answer; for a digit, the
    calibrated probabilities pick how sure it sounds: "It's a 4.", "Probably a 4." or, with a
    close runner-up, "Probably a 4; it could be a 9.".
    """
    if verdict == "not_a_digit":
        return "That doesn't look like a digit."
    if verdict == "several_digits" and digits:
        return f"I see several digits: {' '.join(str(d) for d in digits)}."
    (top, top_p), (second, second_p) = ranked(probabilities, 2)
    if verdict == "unsure":
        return f"Not sure: maybe {named(top)}, or {named(second)}?"
    if second_p >= CLOSE_RUNNER_UP * top_p:
        return f"Probably {named(top)}; it could be {named(second)}."
    if top_p < SURE_FROM:
        return f"Probably {named(top)}."
    return f"It's {named(top)}."
