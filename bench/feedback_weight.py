"""How much should the users' feedback weigh next to MNIST? Measure it, on validation data only.

A simulated user (tests/seven_segment.py: calculator-style digits drawn with a mouse) labels 300
drawings; the shipped model is fine-tuned on MNIST plus those rows (the 80% training side of the
stable split) with the feedback making up a given share of every batch, for each share and peak
learning rate in the grid. Each candidate is scored on

- the parent's MNIST validation split (5,000 training images it never trained on),
- the feedback holdout (the 20% side of the split),
- 500 fresh drawings of the same user (another seed), read through `predict_batch`.

The MNIST test set is not looked at: the default in `finetune.FineTuneConfig` is chosen here.

    .venv/bin/python bench/feedback_weight.py [--shares 0 0.03 0.1 0.25 0.5] [--lrs 3e-4 1e-3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from digit_knower import Predictor
from digit_knower.data.mnist import load_mnist
from digit_knower.lifecycle import feedback
from digit_knower.settings import SHIPPED_MODEL_DIR, get_settings
from digit_knower.store import Feedback, uuid7
from digit_knower.training import finetune
from tests.support.seven_segment import balanced_labels, seven_segment_drawings

REPO_ROOT = Path(__file__).resolve().parents[1]

FEEDBACK_SEED, FRESH_SEED = 1, 2


def simulated_feedback(parent: Predictor, count: int) -> list[Feedback]:
    """`count` labelled drawings as the store would hold them: what the model saw, and the truth."""
    labels = balanced_labels(count, FEEDBACK_SEED)
    inputs = parent.predict_batch(list(seven_segment_drawings(labels, FEEDBACK_SEED)))
    start = datetime(2026, 12, 1, tzinfo=UTC)
    rows = []
    for i, (label, prediction) in enumerate(zip(labels, inputs, strict=True)):
        at = start + timedelta(seconds=i)
        rows.append(
            Feedback(
                id=uuid7(int(at.timestamp() * 1e9)),
                created_at=at,
                model_version=parent.model_version,
                true_label=int(label),
                model_input=prediction.model_input.tobytes(),
            )
        )
    return rows


def accuracy_of(predictor: Predictor, pictures: list, labels: np.ndarray) -> float:
    return float(np.mean([p.digit for p in predictor.predict_batch(pictures)] == labels))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shares", type=float, nargs="+", default=[0.0, 0.03, 0.1, 0.25, 0.5])
    parser.add_argument("--lrs", type=float, nargs="+", default=[3e-4, 1e-3])
    parser.add_argument("--steps", type=int, default=finetune.FineTuneConfig().steps)
    parser.add_argument("--feedback", type=int, default=300, help="labelled drawings of the simulated user")
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DIGIT_KNOWER_DATA_DIR", "")))
    args = parser.parse_args()

    parent = Predictor.load(SHIPPED_MODEL_DIR)
    split = feedback.split(simulated_feedback(parent, args.feedback))
    fresh_labels = balanced_labels(500, FRESH_SEED)
    fresh = list(seven_segment_drawings(fresh_labels, FRESH_SEED))
    mnist = load_mnist(args.data_dir, download=False)
    print(
        f"parent {parent.model_version}: MNIST validation {parent.card['val_accuracy']:.2%}, fresh drawings "
        f"{accuracy_of(parent, fresh, fresh_labels):.2%}; feedback {len(split.train)} to learn from, "
        f"{len(split.holdout)} held out; {args.steps} steps of {finetune.FineTuneConfig().batch_size}",
        flush=True,
    )
    print(f"{'share':>6} {'max lr':>7} | {'MNIST val':>9} {'holdout':>8} {'fresh':>7} | seconds", flush=True)
    for lr in args.lrs:
        for share in args.shares:
            cfg = replace(finetune.FineTuneConfig(), steps=args.steps, feedback_share=share, max_lr=lr)
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                tuned = finetune.fine_tune(
                    SHIPPED_MODEL_DIR,
                    parent.card,
                    mnist,
                    split.train,
                    cfg,
                    Path(out),
                    get_settings().cache_dir,
                )
                seconds = time.perf_counter() - started
                candidate = Predictor.from_dir(Path(out))
                logits = candidate.network.logits(split.holdout.images)
                holdout = float(np.mean(logits[:, :10].argmax(axis=1) == split.holdout.labels))
                print(
                    f"{share:>6.2f} {lr:>7.0e} | {tuned.card['val_accuracy']:>9.2%} {holdout:>8.2%} "
                    f"{accuracy_of(candidate, fresh, fresh_labels):>7.2%} | {seconds:.0f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
