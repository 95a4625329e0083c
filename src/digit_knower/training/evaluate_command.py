"""`digit-knower evaluate`: its command line. Scoring (ONNX Runtime) is imported only when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from digit_knower.settings import get_settings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `evaluate` and its options to the `digit-knower` command line."""
    settings = get_settings()
    parser = subparsers.add_parser(
        "evaluate",
        help="score a model folder on the MNIST test set with ONNX Runtime",
        description="Run a model folder's ONNX file with ONNX Runtime on the 10,000 MNIST test images "
        "and print the accuracy, the per-class accuracy and the confusion matrix.",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=settings.model_dir,
        help="folder holding digit_cnn.onnx (env DIGIT_KNOWER_MODEL_DIR)",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=settings.data_dir, help="the data folder (env DIGIT_KNOWER_DATA_DIR)"
    )


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower evaluate`; its exit status."""
    from digit_knower.training import evaluate

    return evaluate.main(args)
