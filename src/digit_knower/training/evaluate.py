"""`digit-knower evaluate`: score a model folder on the MNIST test set with ONNX Runtime (no torch).

The network is read as the reader reads it (`reader.predictor.Network`). The confusion matrix
and per-class accuracy here are shared with the model card and retraining.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from digit_knower.data.download import DataError
from digit_knower.data.mnist import load_test
from digit_knower.reader.classes import DIGITS
from digit_knower.reader.predictor import CARD_FILE, MODEL_FILE, Network

__all__ = ["confusion_matrix", "format_report", "main", "per_class_accuracy"]

# ONNX Runtime picks its own number of threads (one per core): scoring 10,000 inputs is no server.
ALL_CORES = 0


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10x10 counts: rows are the true digit, columns the predicted one."""
    matrix = np.zeros((DIGITS, DIGITS), dtype=np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> list[float]:
    return [float(matrix[d, d] / max(matrix[d].sum(), 1)) for d in range(DIGITS)]


def format_report(matrix: np.ndarray) -> str:
    """Accuracy, per-class accuracy and the confusion matrix as plain aligned text."""
    total = int(matrix.sum())
    correct = int(np.trace(matrix))
    lines = [f"accuracy: {correct / total:.2%} ({correct}/{total} correct, {total - correct} wrong)", ""]
    lines.append("per-class accuracy:")
    for d, acc in enumerate(per_class_accuracy(matrix)):
        lines.append(f"  {d}: {acc:7.2%}  ({matrix[d, d]}/{matrix[d].sum()})")
    lines += ["", "confusion matrix (rows: true digit, columns: predicted):"]
    lines.append("true\\pred " + "".join(f"{d:>6}" for d in range(DIGITS)))
    for d in range(DIGITS):
        lines.append(f"{d:>9} " + "".join(f"{n:>6}" for n in matrix[d]))
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower evaluate` (options --model-dir and --data-dir); the exit status."""
    model_dir = Path(args.model_dir)
    onnx_path = model_dir / MODEL_FILE
    if not onnx_path.is_file():
        print(f"error: {onnx_path} not found; --model-dir must name a folder made by 'digit-knower train'")
        return 2
    try:
        test = load_test(Path(args.data_dir))
    except DataError as e:
        print(f"error: {e}")
        return 2
    try:
        logits = Network.open(onnx_path, threads=ALL_CORES).logits(test.images)
    except Exception as e:  # ONNX Runtime raises its own exception types for foreign or broken files
        reason = str(e.__cause__ or e).splitlines()[0]  # ONNX Runtime's own words, where it gave them
        print(f"error: {onnx_path} could not be run with ONNX Runtime: {reason}")
        return 2
    card_path = model_dir / CARD_FILE
    card = json.loads(card_path.read_text()) if card_path.is_file() else {}
    version = card.get("version", "(no model card)")
    print(f"model {version} from {model_dir}, scored on the {len(test.labels)} MNIST test images\n")
    # The likeliest digit, whatever "not a digit" says: MNIST's test digits are all digits.
    print(format_report(confusion_matrix(test.labels, logits[:, :DIGITS].argmax(axis=1))))
    if card.get("sources"):
        print("\n" + format_sources(card["sources"]))
    return 0


def format_sources(sources: dict[str, Any]) -> str:
    """What the model was trained on, from its card: each source, its share of a batch, its
    checksum and its figures on validation data."""
    lines = ["trained on (share of each batch; figures on validation data, from the model card):"]
    for name, source in sources.items():
        checksum = source.get("sha256")
        digest = f"  sha256 {_short(checksum)}" if checksum else ""
        lines.append(f"  {name:<10} {source['share']:6.1%}  {source['what']}{digest}")
        for figure, value in source.get("figures", {}).items():
            lines.append(f"  {'':<10} {'':>6}    {figure.replace('_', ' ')}: {value:.2%}")
    return "\n".join(lines)


def _short(checksum: str | dict[str, str]) -> str:
    """A checksum's first 12 hex digits; for MNIST's files, each file's first 8."""
    if isinstance(checksum, dict):
        return ", ".join(f"{name.removesuffix('-ubyte')} {digest[:8]}" for name, digest in checksum.items())
    return checksum[:12]
