"""From the network's eleven outputs to the reader's verdict, and the words it says."""

from __future__ import annotations

import numpy as np
import pytest

from digit_knower.reader.verdict import Reading, Thresholds, describe, read, several_digits

THRESHOLDS = Thresholds(not_a_digit_from=0.5, unsure_below=0.6)


def logits(digit_logits: list[float], not_a_digit: float | None = None) -> np.ndarray:
    row = digit_logits + ([] if not_a_digit is None else [not_a_digit])
    return np.array([row], dtype=np.float32)


def one_hot(digit: int, strength: float = 10.0) -> list[float]:
    return [strength if d == digit else 0.0 for d in range(10)]


def test_a_clear_digit_is_a_digit_with_its_calibrated_probability() -> None:
    (reading,) = read(logits(one_hot(7), not_a_digit=-5.0), THRESHOLDS)
    assert (reading.digit, reading.verdict) == (7, "digit")
    assert reading.confidence == pytest.approx(max(reading.probabilities))
    assert sum(reading.probabilities) == pytest.approx(1.0)
    assert reading.not_a_digit < 1e-6


def test_two_close_digits_make_the_reader_unsure() -> None:
    close = [0.0] * 10
    close[4], close[9] = 3.0, 2.8
    (reading,) = read(logits(close, not_a_digit=-5.0), THRESHOLDS)
    assert (reading.digit, reading.verdict) == (4, "unsure")


def test_a_likely_non_digit_is_not_a_digit_whatever_the_digits_say() -> None:
    (reading,) = read(logits(one_hot(4), not_a_digit=12.0), THRESHOLDS)
    assert (reading.digit, reading.verdict) == (4, "not_a_digit")
    assert reading.not_a_digit > 0.5
    assert reading.confidence > 0.99  # among the digits, it would be a 4


def test_a_ten_class_model_is_never_sure_it_is_no_digit() -> None:
    (reading,) = read(logits(one_hot(2)), Thresholds())
    assert (reading.verdict, reading.not_a_digit) == ("digit", 0.0)


def test_thresholds_come_from_the_model_card_with_safe_defaults() -> None:
    card = {"reader": {"not_a_digit_threshold": 0.3, "unsure_threshold": 0.7}}
    assert Thresholds.from_card(card) == Thresholds(not_a_digit_from=0.3, unsure_below=0.7)
    assert Thresholds.from_card({}) == Thresholds(not_a_digit_from=1.0, unsure_below=0.5)


def reading(digit: int, verdict: str) -> Reading:
    return Reading(digit, 0.9, tuple([0.1 / 9] * 10), 0.0, verdict)  # type: ignore[arg-type]


def test_several_digits_need_every_part_a_digit_and_a_narrow_gap_the_whole_none() -> None:
    parts = [reading(4, "digit"), reading(2, "digit")]
    assert several_digits(reading(4, "not_a_digit"), parts, clearly_apart=False)
    assert several_digits(reading(4, "unsure"), parts, clearly_apart=False)
    # A narrow gap and the whole reads as one digit: a single digit broken by the gap.
    assert not several_digits(reading(4, "digit"), parts, clearly_apart=False)
    assert several_digits(reading(4, "digit"), parts, clearly_apart=True)
    a_part_no_digit = [reading(4, "digit"), reading(1, "not_a_digit")]
    assert not several_digits(reading(4, "not_a_digit"), a_part_no_digit, clearly_apart=True)
    assert not several_digits(reading(4, "not_a_digit"), [reading(4, "digit")], clearly_apart=True)


@pytest.mark.parametrize(
    ("verdict", "digits", "words"),
    [
        ("digit", (3,), "It's a 3."),
        ("unsure", (3,), "Not sure: 3, or maybe 8?"),
        ("not_a_digit", (), "That doesn't look like a digit."),
        ("several_digits", (4, 2), "I see several digits: 4 2."),
        (None, None, "It's a 3."),  # a prediction logged before verdicts
    ],
)
def test_each_verdict_is_said_in_plain_words(verdict, digits, words) -> None:
    probabilities = [0.0] * 10
    probabilities[3], probabilities[8] = 0.55, 0.45
    assert describe(verdict, digits, probabilities) == words


@pytest.mark.parametrize("digit", range(10))
def test_it_is_an_8_and_a_for_every_other_digit(digit: int) -> None:
    probabilities = [0.0] * 10
    probabilities[digit] = 1.0
    said = describe("digit", (digit,), probabilities)
    assert said == (f"It's an {digit}." if digit == 8 else f"It's a {digit}.")
