"""Calibration: the temperature, the expected calibration error, and the reader's thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from digit_knower.reader.classes import softmax
from digit_knower.reader.verdict import Thresholds, read
from digit_knower.training import calibrate


def sampled(temperature: float, n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): that temperature is right."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, 10))
    probabilities = softmax(logits / temperature)
    labels = np.array([rng.choice(10, p=p) for p in probabilities])
    return logits, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(temperature: float) -> None:
    logits, labels = sampled(temperature)
    assert calibrate.fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    logits, labels = sampled(2.0)
    right = logits.argmax(1) == labels
    calibrated = softmax(logits / 2.0).max(1)
    overconfident = softmax(logits).max(1)
    assert calibrate.ece(calibrated, right) < 0.015
    assert calibrate.ece(overconfident, right) > 0.1


def test_ece_by_hand() -> None:
    # Two bins used: 0.95 said, 1 of 2 right (gap 0.45); 0.55 said, 1 of 2 right (gap 0.05).
    confidences = np.array([0.95, 0.95, 0.55, 0.55])
    right = np.array([True, False, True, False])
    assert calibrate.ece(confidences, right) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)


def validation_digits(count: int = 10_000, seed: int = 1) -> np.ndarray:
    """Logits of digits: the ten digits spread out, "not a digit" mostly unlikely."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 2, (count, 10)), rng.normal(-3, 2, (count, 1))], axis=1)


def test_thresholds_turn_away_and_doubt_the_asked_shares_of_the_validation_digits() -> None:
    digit_logits = validation_digits()
    thresholds = calibrate.pick_thresholds(digit_logits, rejected_share=0.01, unsure_share=0.02)
    not_a_digit = softmax(digit_logits)[:, 10]
    turned_away = not_a_digit >= thresholds.not_a_digit_from
    assert turned_away.mean() == pytest.approx(0.01, abs=0.002)
    confidence = softmax(digit_logits[:, :10]).max(1)[~turned_away]
    assert (confidence < thresholds.unsure_below).mean() == pytest.approx(0.02, abs=0.003)


def test_the_picked_thresholds_are_the_readers_and_its_verdicts_keep_to_the_asked_shares() -> None:
    digit_logits = validation_digits()
    thresholds = calibrate.pick_thresholds(digit_logits, rejected_share=0.01, unsure_share=0.02)
    assert isinstance(thresholds, Thresholds)
    verdicts = [reading.verdict for reading in read(digit_logits, thresholds)]
    assert verdicts.count("not_a_digit") / len(verdicts) == pytest.approx(0.01, abs=0.002)
    assert verdicts.count("unsure") / len(verdicts) == pytest.approx(0.99 * 0.02, abs=0.003)
    # What the card reports as turned away is what the reader's verdicts turn away.
    assert calibrate.turned_away(digit_logits, thresholds) == pytest.approx(
        1 - verdicts.count("digit") / 10_000
    )


def test_the_thresholds_go_into_the_card_as_the_reader_reads_them_back() -> None:
    thresholds = calibrate.pick_thresholds(validation_digits(), rejected_share=0.01, unsure_share=0.02)
    assert Thresholds.from_card({"reader": thresholds.card_fields()}) == thresholds


def test_a_ten_class_model_never_turns_a_drawing_away() -> None:
    ten = validation_digits()[:, :10]
    thresholds = calibrate.pick_thresholds(ten, rejected_share=0.01, unsure_share=0.02)
    assert thresholds.not_a_digit_from == 1.0
    assert "not_a_digit" not in {reading.verdict for reading in read(ten, thresholds)}
