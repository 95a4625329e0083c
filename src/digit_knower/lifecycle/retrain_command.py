"""`digit-knower retrain`: its command line. The training code (torch) is imported only when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from digit_knower.settings import get_settings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `retrain` and its options to the `digit-knower` command line."""
    settings = get_settings()
    parser = subparsers.add_parser(
        "retrain",
        help="retrain the serving model on the users' labelled drawings; compare; promote",
        description="Fine-tune the serving model (the parent) on MNIST plus every labelled one-digit "
        "prediction in DATABASE_URL (the 28x28 input the model saw, and the true label). A hash of "
        "each prediction's id puts it, for good, in training (about 80%) or in the feedback holdout "
        "(20%). The candidate goes into DIGIT_KNOWER_MODEL_REGISTRY with its card and is "
        "registered; a table compares parent and candidate on the MNIST test set, the feedback "
        "holdout and the mouse-style robustness set. The gate passes when the candidate is at most "
        "0.1 point worse on MNIST, at most 0.2 points worse on the robustness set, and strictly "
        "better on the holdout. Exit status: 0 done, 1 failed, 2 bad input or too few labelled "
        "predictions, 3 --promote refused by the gate (the candidate is kept). Needs the 'train' "
        "extra (torch).",
    )
    parser.add_argument(
        "--promote", action="store_true", help="promote the candidate when the gate passes (it then serves)"
    )
    parser.add_argument(
        "--min-feedback",
        type=int,
        default=settings.retrain_min_feedback,
        help="stop, saying so, with fewer labelled predictions (env DIGIT_KNOWER_RETRAIN_MIN_FEEDBACK)",
    )
    parser.add_argument("--steps", type=int, default=None, help="fine-tuning steps (default: 300)")
    parser.add_argument(
        "--feedback-share",
        type=float,
        default=None,
        help="share of every batch drawn from the feedback; the rest is MNIST (default: 0.1)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed; the same seed and data give the same model"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: 2)")
    parser.add_argument(
        "--data-dir", type=Path, default=settings.data_dir, help="the data folder (env DIGIT_KNOWER_DATA_DIR)"
    )
    parser.add_argument("--by", default=None, help="who promotes, for the history (default: user@host)")


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower retrain`; its exit status."""
    from digit_knower.lifecycle import retrain

    return retrain.main(args)
