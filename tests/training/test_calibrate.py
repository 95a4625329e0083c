"""Calibration: the temperature, the expected calibration error, and the reader's thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from digit_knower.training import calibrate


def sampled(temperature: float, n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): that temperature is right."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, 10))
    probabilities = calibrate.softmax(logits / temperature)
    labels = np.array([rng.choice(10, p=p) for p in probabilities])
    return logits, labels


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with(temperature: float) -> None:
    logits, labels = sampled(temperature)
    assert calibrate.fit_temperature(logits, labels) == pytest.approx(temperature, rel=0.05)


def test_ece_is_near_zero_when_calibrated_and_large_when_overconfident() -> None:
    logits, labels = sampled(2.0)
    right = logits.argmax(1) == labels
    calibrated = calibrate.softmax(logits / 2.0).max(1)
    overconfident = calibrate.softmax(logits).max(1)
    assert calibrate.ece(calibrated, right) < 0.015
    assert calibrate.ece(overconfident, right) > 0.1


def test_ece_by_hand() -> None:
    # Two bins used: 0.95 said, 1 of 2 right (gap 0.45); 0.55 said, 1 of 2 right (gap 0.05).
    confidences = np.array([0.95, 0.95, 0.55, 0.55])
    right = np.array([True, False, True, False])
    assert calibrate.ece(confidences, right) == pytest.approx(0.5 * 0.45 + 0.5 * 0.05)


def test_thresholds_turn_away_and_doubt_the_asked_shares_of_the_validation_digits() -> None:
    rng = np.random.default_rng(1)
    digit_logits = np.concatenate([rng.normal(0, 2, (10_000, 10)), rng.normal(-3, 2, (10_000, 1))], axis=1)
    thresholds = calibrate.pick_thresholds(digit_logits, rejected_share=0.01, unsure_share=0.02)
    not_a_digit = calibrate.softmax(digit_logits)[:, 10]
    turned_away = not_a_digit >= thresholds.not_a_digit
    assert turned_away.mean() == pytest.approx(0.01, abs=0.002)
    confidence = calibrate.softmax(digit_logits[:, :10]).max(1)[~turned_away]
    assert (confidence < thresholds.unsure).mean() == pytest.approx(0.02, abs=0.003)
