"""`digit-knower train`: its command line. The training code (torch) is imported only when it runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from digit_knower.settings import SHIPPED_MODEL_DIR, get_settings
from digit_knower.training.config import TrainConfig

# Each preset's epochs (passes over the MNIST training split); the rest of the recipe is the same.
PRESETS = {"full": TrainConfig().epochs, "quick": 1}


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `train` and its options to the `digit-knower` command line."""
    settings = get_settings()
    parser = subparsers.add_parser(
        "train",
        help="train the CNN on MNIST and export it to ONNX",
        description="Train the CNN on MNIST mixed with real people's handwriting (UCI's pen digits, and "
        "Omniglot's mouse-drawn letters as non-digits; all downloaded and verified if needed), with "
        "the MNIST digits redrawn as people draw them and with synthetic drawings that are no digit "
        "(made once, on every core, and cached in DIGIT_KNOWER_CACHE_DIR). Hold out a validation "
        "split for every training-time choice (the temperature that calibrates the confidence, the "
        "reader's thresholds), score the test sets once at the end, export a self-contained ONNX "
        "file, check it against torch, and write the model card and plots. Needs the 'train' extra "
        "(torch).",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default="full",
        help=f"full: the shipped model's recipe ({PRESETS['full']} epochs, about 25-40 minutes on 2 "
        "cores); quick: 1 epoch, for trying things (a minute or two once the drawings are cached)",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="passes over the MNIST training split, overriding the preset's",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same model")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="mini-batch size, every source (default: 256)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=SHIPPED_MODEL_DIR,
        help="folder for the ONNX file, weights, card and plots",
    )
    parser.add_argument(
        "--data-dir", type=Path, default=settings.data_dir, help="the data folder (env DIGIT_KNOWER_DATA_DIR)"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads, and processes making the drawings (default: 2, measured faster "
        "than 1 on this 2-core machine)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=settings.cache_dir,
        help="where the drawings are kept once made: training's redrawn digits and non-digits, and "
        "the test-side drawings of the model card (env DIGIT_KNOWER_CACHE_DIR)",
    )


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower train`; its exit status."""
    from digit_knower.training import train

    return train.main(args)
