"""Calibration: a temperature that makes the confidence mean what it says, and the reader's thresholds.

Both are chosen after training on the validation split, never on the test set (`calibrate_reader`):

- the temperature T (Guo et al., 2017, "On Calibration of Modern Neural Networks"): the logits
  are divided by the one number that minimises the negative log-likelihood of the validation
  digits. It changes no prediction, only how sure each one says it is;
- the threshold of "not a digit": the probability of the eleventh class above which a drawing is
  turned away, set so that only a small, fixed share of the validation digits are;
- the threshold of "unsure": the digit's probability below which the reader says it is not sure,
  likewise set by the share of validation digits it may concern.

The thresholds are the reader's own type (`verdict.Thresholds`), and what they do to the
validation split is measured by the reader's own verdicts, second look included: training
calibrates the reader exactly as it will serve.

`ece` measures calibration: the expected calibration error over 15 equal-width bins of
confidence, the weighted mean gap between how sure the reader said it was and how often it was
right.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import torch
from numpy.typing import NDArray

from digit_knower.reader import second_look, verdict
from digit_knower.reader.classes import DIGITS, NOT_A_DIGIT, softmax
from digit_knower.reader.verdict import Thresholds
from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import TrainingData
from digit_knower.training.model import DigitCNN, predict_logits

ECE_BINS: Final = 15
# The validation digits the temperature and thresholds are fitted on (`data_mix` sources).
DIGIT_SOURCES: Final = ("mnist", "redrawn", "pen")
# The temperatures tried: a fine geometric grid (0.5% apart) from 0.2 to 5 is exact enough for
# one number, and it cannot fail to converge.
_TEMPERATURES: Final = np.geomspace(0.2, 5.0, 650)


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


def pick_thresholds(
    digit_logits: NDArray[np.floating], rejected_share: float, unsure_share: float
) -> Thresholds:
    """Thresholds that turn away `rejected_share` of these (calibrated) validation digits as "not a
    digit", and call `unsure_share` of the rest "unsure"."""
    not_a_digit = softmax(digit_logits)[:, NOT_A_DIGIT] if digit_logits.shape[1] > DIGITS else None
    confidence = softmax(digit_logits[:, :DIGITS]).max(axis=1)
    if not_a_digit is None:
        threshold = 1.0
        kept = confidence
    else:
        threshold = float(np.quantile(not_a_digit, 1 - rejected_share, method="higher"))
        kept = confidence[not_a_digit < threshold]
    unsure = float(np.quantile(kept, unsure_share, method="lower")) if len(kept) else 0.5
    return Thresholds(not_a_digit_from=threshold, unsure_below=unsure)


def calibrate_reader(
    model: DigitCNN, data: TrainingData, cfg: TrainConfig, raw: dict[str, torch.Tensor]
) -> dict[str, Any]:
    """Fit the temperature into the model and pick the reader's thresholds, on validation only.

    `raw` is the model's `train.validation_logits` before calibration (temperature 1, every
    redrawing): training has them from its last epoch, so the validation split is not read twice.
    Returns the card's "reader" section: the temperature, the thresholds and what they do to the
    validation split (the share of digits turned away or called unsure, the share of non-digits
    caught).
    """
    if model.temperature.item() != 1.0:
        raise ValueError("calibrate_reader: the model is calibrated already; `raw` must be uncalibrated")
    sources = [name for name in DIGIT_SOURCES if name in data.val]
    digits = torch.cat([data.val[name].images for name in sources])
    labels = torch.cat([data.val[name].labels for name in sources])
    digit_logits = torch.cat([raw[name] for name in sources]).numpy()
    temperature = fit_temperature(digit_logits, labels.numpy())
    model.temperature.fill_(temperature)
    # The thresholds act on the logits as the reader will serve them: second look included.
    calibrated = as_served(model, digits, first_look=digit_logits / temperature)
    thresholds = pick_thresholds(calibrated, cfg.rejected_share, cfg.unsure_share)
    figures = {
        "temperature": temperature,
        **thresholds.card_fields(),
        "val_digits_turned_away": turned_away(calibrated, thresholds),
    }
    for name in ("nondigits", "omniglot"):
        if name in data.val:
            others = as_served(model, data.val[name].images, first_look=raw[name].numpy() / temperature)
            figures[f"val_{name}_caught"] = turned_away(others, thresholds)
    return figures


def as_served(model: DigitCNN, images: torch.Tensor, first_look: np.ndarray) -> np.ndarray:
    """The logits the Predictor would get for these 28x28 inputs: the model's first look at them
    (calibrated, which the caller has already) and a second look (`second_look`) at the undecided."""

    def run(inputs: np.ndarray) -> np.ndarray:
        return predict_logits(model, torch.from_numpy(inputs)).numpy()

    return second_look.with_second_look(first_look, images.numpy(), run)


def turned_away(logits: NDArray[np.floating], thresholds: Thresholds) -> float:
    """The share of these inputs that the reader's verdict (each input read alone) calls "not a
    digit" or "unsure"."""
    readings = verdict.read(logits, thresholds)
    return sum(r.verdict != "digit" for r in readings) / len(readings)
