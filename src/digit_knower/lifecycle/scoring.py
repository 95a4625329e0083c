"""Scoring a model folder on the three sets the gate compares, with ONNX Runtime (no torch).

- the MNIST test set and the feedback holdout are 28x28 inputs already: the model reads them as
  they are. MNIST test counts the likeliest digit (the figure is then the model card's); the
  holdout counts the answer its users saw, so a digit turned away as "not a digit" is wrong;
- the robustness set is pictures: MNIST test digits redrawn as with a mouse on the page's canvas
  (`redraw`), 1,000 in each of the three polarities, read through `Predictor.predict_batch` with
  its preprocessing, as the page and the API read drawings. A fixed sample with a fixed seed:
  every model is scored on the very same pictures, and it costs seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from digit_knower.data.mnist import Split
from digit_knower.lifecycle.feedback import FeedbackSet
from digit_knower.lifecycle.gate import Change, Score, Scores
from digit_knower.reader.predictor import Predictor

# 3,000 pictures: the gate's 0.2-point bound is then 6 of them, not one (a coin toss at 600).
ROBUSTNESS_PER_POLARITY = 1000
ROBUSTNESS_SEED = 0


@dataclass(frozen=True)
class EvaluationSets:
    mnist_test: Split
    feedback_holdout: FeedbackSet
    robustness_pictures: list[NDArray[np.uint8]]
    robustness_labels: NDArray[np.int64]

    @classmethod
    def build(
        cls, test: Split, holdout: FeedbackSet, per_polarity: int = ROBUSTNESS_PER_POLARITY
    ) -> EvaluationSets:
        pictures, labels = robustness_set(test, per_polarity)
        return cls(test, holdout, pictures, labels)


def robustness_set(
    test: Split, per_polarity: int = ROBUSTNESS_PER_POLARITY, seed: int = ROBUSTNESS_SEED
) -> tuple[list[NDArray[np.uint8]], NDArray[np.int64]]:
    """A fixed sample of MNIST test digits, redrawn as with a mouse, in each of the three polarities."""
    from digit_knower.training.drawings import redraw  # scikit-image: the `train` extra, which retraining has

    painters = list(redraw.POLARITIES.values())
    count = per_polarity * len(painters)
    chosen = np.random.default_rng(seed).choice(len(test.labels), size=count, replace=False)
    inks = redraw.mouse_style_inks(test.images[chosen], seed)
    pictures = [painters[i % len(painters)](ink) for i, ink in enumerate(inks)]
    return pictures, test.labels[chosen].astype(np.int64)


@dataclass(frozen=True)
class Scored:
    scores: Scores
    test_predicted: NDArray[np.int64]  # each MNIST test image's predicted digit, for the confusion matrix
    robustness_predicted: NDArray[np.int64]  # each robustness picture's answer, to compare two models

    def change_from(self, parent: Scored) -> Change:
        """On how many robustness pictures this model answers otherwise than `parent` (the gate's
        reference set)."""
        changed = int((self.robustness_predicted != parent.robustness_predicted).sum())
        return Change(changed, len(self.robustness_predicted))


def score(model_dir: Path, sets: EvaluationSets) -> Scored:
    """One model folder on the three sets."""
    predictor = Predictor.from_dir(model_dir)
    test_predicted = _read_inputs(predictor, sets.mnist_test.images)
    holdout_predicted = _answers(predictor, sets.feedback_holdout.images)
    predictions = predictor.predict_batch(sets.robustness_pictures)
    robustness_predicted = np.array([p.digit for p in predictions], dtype=np.int64)
    scores = Scores(
        mnist_test=_score(test_predicted, sets.mnist_test.labels),
        feedback_holdout=_score(holdout_predicted, sets.feedback_holdout.labels),
        robustness=_score(robustness_predicted, sets.robustness_labels),
    )
    return Scored(scores, test_predicted, robustness_predicted)


def _read_inputs(predictor: Predictor, images: NDArray[np.uint8]) -> NDArray[np.int64]:
    if len(images) == 0:
        return np.empty(0, dtype=np.int64)
    # The network's likeliest digit, whatever "not a digit" says: as the model card counts MNIST test.
    return predictor.network.logits(images)[:, :10].argmax(axis=1).astype(np.int64)


def _answers(predictor: Predictor, images: NDArray[np.uint8]) -> NDArray[np.int64]:
    """The digit the reader answers for each 28x28 input, with its own thresholds; -1 where it turns
    the input away as no digit. The users' own drawings are scored as they saw them answered: a
    model that calls their digits "not a digit" has not read them, whatever its best guess."""
    readings = predictor.read_inputs(images) if len(images) else []
    return np.array([r.digit if r.verdict != "not_a_digit" else -1 for r in readings], dtype=np.int64)


def _score(predicted: NDArray[np.int64], labels: NDArray[np.integer]) -> Score:
    return Score(correct=int((predicted == labels).sum()), total=len(labels))
