"""Calibration: a temperature that makes the confidence mean what it says, and the reader's thresholds.

Both are chosen after training on the validation split, never on the test set:

- the temperature T (Guo et al., 2017, "On Calibration of Modern Neural Networks"): the logits
  are divided by the one number that minimises the negative log-likelihood of the validation
  digits. It changes no prediction, only how sure each one says it is;
- the threshold of "not a digit": the probability of the eleventh class above which a drawing is
  turned away, set so that only a small, fixed share of the validation digits are;
- the threshold of "unsure": the digit's probability below which the reader says it is not sure,
  likewise set by the share of validation digits it may concern.

`ece` measures calibration: the expected calibration error over 15 equal-width bins of
confidence, the weighted mean gap between how sure the reader said it was and how often it was
right.

numpy only: serving-side tools (`digit-knower evaluate`, the benchmarks) use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

ECE_BINS: Final = 15
DIGITS: Final = 10
# The temperatures tried: a fine geometric grid (0.5% apart) from 0.2 to 5 is exact enough for
# one number, and it cannot fail to converge.
_TEMPERATURES: Final = np.geomspace(0.2, 5.0, 650)


def softmax(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    """Row-wise, in float64, each row's maximum subtracted first: rows sum to 1 to within 1e-15,
    and no logit can overflow."""
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def fit_temperature(logits: NDArray[np.floating], labels: NDArray[np.integer]) -> float:
    """The temperature minimising the NLL of the ten digits' softmax for these digit logits."""
    digit_logits = logits[:, :DIGITS].astype(np.float64)
    rows = np.arange(len(labels))
    best, best_nll = 1.0, np.inf
    for t in _TEMPERATURES:
        scaled = digit_logits / t
        scaled -= scaled.max(axis=1, keepdims=True)
        nll = float(np.mean(np.log(np.exp(scaled).sum(axis=1)) - scaled[rows, labels]))
        if nll < best_nll:
            best, best_nll = float(t), nll
    return best


def ece(confidences: NDArray[np.floating], correct: NDArray[np.bool_], bins: int = ECE_BINS) -> float:
    """Expected calibration error: sum over equal-width confidence bins of share x |accuracy - confidence|."""
    confidences = np.asarray(confidences, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 goes to bin 0.
    which = np.clip(np.ceil(confidences * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.mean() * abs(correct[inside].mean() - confidences[inside].mean())
    return float(total)


@dataclass(frozen=True)
class ReaderThresholds:
    not_a_digit: float  # P(not a digit) from which a drawing is turned away
    unsure: float  # the digit's probability below which the reader is unsure


def pick_thresholds(
    digit_logits: NDArray[np.floating], rejected_share: float, unsure_share: float
) -> ReaderThresholds:
    """Thresholds that turn away `rejected_share` of these (calibrated) validation digits as "not a
    digit", and call `unsure_share` of the rest "unsure"."""
    not_a_digit = softmax(digit_logits)[:, DIGITS] if digit_logits.shape[1] > DIGITS else None
    confidence = softmax(digit_logits[:, :DIGITS]).max(axis=1)
    if not_a_digit is None:
        threshold = 1.0
        kept = confidence
    else:
        threshold = float(np.quantile(not_a_digit, 1 - rejected_share, method="higher"))
        kept = confidence[not_a_digit < threshold]
    unsure = float(np.quantile(kept, unsure_share, method="lower")) if len(kept) else 0.5
    return ReaderThresholds(not_a_digit=threshold, unsure=unsure)
