"""From the network's eleven outputs to the reader's verdict, and the words it says."""

from __future__ import annotations

import numpy as np
import pytest

from digit_knower.reader.verdict import (
    CLOSE_RUNNER_UP,
    SURE_FROM,
    Reading,
    Thresholds,
    Verdict,
    describe,
    named,
    ranked,
    read,
    several_digits,
)

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


def spread(**by_digit: float) -> list[float]:
    """Ten probabilities: the named digits' (d4=0.57), the rest shared evenly by the others."""
    given = {int(name[1:]): p for name, p in by_digit.items()}
    rest = (1.0 - sum(given.values())) / (10 - len(given))
    return [given.get(d, rest) for d in range(10)]


@pytest.mark.parametrize(
    ("verdict", "digits", "probabilities", "words"),
    [
        ("digit", (4,), spread(d4=0.97, d9=0.02), "It's a 4."),
        # The 9-like 4: a flat "It's a 4." at 57% would read as certain.
        ("digit", (4,), spread(d4=0.568, d9=0.43), "Probably a 4; it could be a 9."),
        # Below SURE_FROM, but the runner-up far behind: probably, with no second digit named.
        ("digit", (4,), spread(d4=0.8, d9=0.1), "Probably a 4."),
        ("unsure", (3,), spread(d3=0.45, d8=0.35), "Not sure: maybe a 3, or an 8?"),
        ("not_a_digit", (), spread(d3=0.97), "That doesn't look like a digit."),
        ("several_digits", (4, 2), spread(d4=0.97), "I see several digits: 4 2."),
        (None, None, spread(d3=0.97), "It's a 3."),  # a prediction logged before verdicts
        (None, None, spread(d3=0.55, d8=0.45), "Probably a 3; it could be an 8."),
    ],
)
def test_each_verdict_is_said_in_plain_words(
    verdict: Verdict | None, digits: tuple[int, ...] | None, probabilities: list[float], words: str
) -> None:
    assert describe(verdict, digits, probabilities) == words


def test_sure_starts_at_sure_from_and_a_runner_up_is_close_from_a_third_of_the_top() -> None:
    assert describe("digit", (4,), spread(d4=SURE_FROM, d9=0.05)) == "It's a 4."
    assert describe("digit", (4,), spread(d4=SURE_FROM - 0.01, d9=0.05)) == "Probably a 4."
    top = 0.6
    close = spread(d4=top, d9=top * CLOSE_RUNNER_UP)
    assert describe("digit", (4,), close) == "Probably a 4; it could be a 9."
    not_close = spread(d4=top, d9=top * CLOSE_RUNNER_UP - 0.01)
    assert describe("digit", (4,), not_close) == "Probably a 4."


def test_ranked_gives_the_likeliest_digits_first_with_their_probabilities() -> None:
    probabilities = spread(d4=0.5, d9=0.3, d7=0.13)
    assert [d for d, _ in ranked(probabilities, 3)] == [4, 9, 7]
    assert [p for _, p in ranked(probabilities, 3)] == pytest.approx([0.5, 0.3, 0.13])
    assert [d for d, _ in ranked([0.1] * 10, 3)] == [0, 1, 2]  # ties: the lower digit first


@pytest.mark.parametrize("digit", range(10))
def test_it_is_an_8_and_a_for_every_other_digit_in_every_wording(digit: int) -> None:
    sure, runner_up = [0.0] * 10, [0.0] * 10
    sure[digit] = 1.0
    other = 8 if digit != 8 else 1
    runner_up[digit], runner_up[other] = 0.55, 0.45
    assert describe("digit", (digit,), sure) == f"It's {named(digit)}."
    assert describe("digit", (digit,), runner_up) == f"Probably {named(digit)}; it could be {named(other)}."
    assert describe("unsure", (digit,), runner_up) == f"Not sure: maybe {named(digit)}, or {named(other)}?"
    assert named(digit) == (f"an {digit}" if digit == 8 else f"a {digit}")
