"""The promotion gate: may a candidate replace its parent? And if not, exactly why not.

A candidate is promoted only when it is
- no worse than its parent on the MNIST test set by more than 0.1 point,
- no worse on the mouse-style robustness set by more than 0.2 points, and
- strictly better on the feedback holdout (the users' own drawings it never trained on, with
  trusted labels only: see `feedback`), and, when a change is given (`retrain` gives it),
- changes the answer on at most 2% of a fixed reference set: the mouse-style robustness set's
  3,000 pictures, answers compared, labels not needed. A candidate that changes more is left for a
  person to review and promote (`digit-knower models promote`), even when it scores better: a
  large change from one night's labels is what a poisoning would look like.

Both models are scored on the very same images, so the comparison is in counts of images, exactly:
0.1 point of 10,000 test images is 10 images, never a rounding question.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

MNIST_TOLERANCE_POINTS = 0.1
ROBUSTNESS_TOLERANCE_POINTS = 0.2
# 60 of the 3,000 reference pictures. The parent reads about 98% of them right (97.8% on the card
# of the shipped model), so 2% is as many as it gets wrong: a night's fine-tuning that fixes its
# mistakes stays within it, one that rewrites its answers does not.
MAX_CHANGED_PERCENT = 2.0


@dataclass(frozen=True)
class Score:
    correct: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


@dataclass(frozen=True)
class Scores:
    """One model on the three sets."""

    mnist_test: Score
    feedback_holdout: Score
    robustness: Score

    def to_card(self) -> dict[str, dict[str, float | int | None]]:
        return {name: {**asdict(score), "accuracy": score.accuracy} for name, score in self._named()}

    def _named(self) -> list[tuple[str, Score]]:
        return [(name, getattr(self, name)) for name in SET_NAMES]


SET_NAMES = ("mnist_test", "feedback_holdout", "robustness")
SET_TITLES = {
    "mnist_test": "MNIST test set",
    "feedback_holdout": "feedback holdout",
    "robustness": "mouse-style robustness set",
}


@dataclass(frozen=True)
class Change:
    """On how many of the reference pictures the candidate's answer differs from its parent's."""

    changed: int
    total: int

    def to_card(self) -> dict[str, float | int]:
        return {"changed": self.changed, "total": self.total, "max_percent": MAX_CHANGED_PERCENT}


@dataclass(frozen=True)
class Verdict:
    passed: bool
    failures: tuple[str, ...]  # one sentence per failed condition

    def summary(self) -> str:
        return "the gate passed" if self.passed else "the gate refused: " + "; ".join(self.failures)


def judge(parent: Scores, candidate: Scores, change: Change | None = None) -> Verdict:
    """Check the three conditions, and the size of the `change` when given; every failed one is
    named, with its figures."""
    failures = [
        problem
        for problem in (
            _no_worse_than("mnist_test", parent.mnist_test, candidate.mnist_test, MNIST_TOLERANCE_POINTS),
            _no_worse_than(
                "robustness", parent.robustness, candidate.robustness, ROBUSTNESS_TOLERANCE_POINTS
            ),
            _strictly_better("feedback_holdout", parent.feedback_holdout, candidate.feedback_holdout),
            None if change is None else _small(change),
        )
        if problem
    ]
    return Verdict(passed=not failures, failures=tuple(failures))


def _no_worse_than(name: str, parent: Score, candidate: Score, points: float) -> str | None:
    _same_set(name, parent, candidate)
    allowed = math.floor(points / 100 * parent.total + 1e-9)  # images the candidate may lose
    lost = parent.correct - candidate.correct
    if lost <= allowed:
        return None
    return (
        f"{SET_TITLES[name]}: {_pct(candidate)} is {100 * lost / parent.total:.2f} points below the "
        f"parent's {_pct(parent)} ({lost} of {parent.total} images; at most {points:.1f} points allowed)"
    )


def _strictly_better(name: str, parent: Score, candidate: Score) -> str | None:
    _same_set(name, parent, candidate)
    if parent.total == 0:
        return f"{SET_TITLES[name]}: empty (no labelled prediction fell into it), so no gain can be shown"
    if candidate.correct > parent.correct:
        return None
    return (
        f"{SET_TITLES[name]}: {_pct(candidate)} is not better than the parent's {_pct(parent)} "
        f"({candidate.correct} against {parent.correct} of {parent.total}; it must be strictly better)"
    )


def _small(change: Change) -> str | None:
    allowed = math.floor(MAX_CHANGED_PERCENT / 100 * change.total + 1e-9)
    if change.changed <= allowed:
        return None
    return (
        f"reference set ({SET_TITLES['robustness']}): the candidate changes the answer on "
        f"{change.changed / change.total:.2%} of it ({change.changed} of {change.total} pictures; at most "
        f"{MAX_CHANGED_PERCENT:.0f}% without a person's review: digit-knower models promote VERSION)"
    )


def _same_set(name: str, parent: Score, candidate: Score) -> None:
    if parent.total != candidate.total:
        raise ValueError(f"{name}: parent and candidate were scored on {parent.total} and {candidate.total}")


def _pct(score: Score) -> str:
    return "n/a" if score.accuracy is None else f"{score.accuracy:.2%}"
