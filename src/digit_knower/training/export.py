"""Export: a trained, calibrated model into a model folder, checked before anything is served.

The network is exported to ONE self-contained ONNX file, and ONNX Runtime, read through the
reader's own `Network`, must agree with torch on every MNIST test image, or the run fails
(`TrainingFailed`). Then the torch weights (for fine-tuning) and the model card. Training and
fine-tuning both end in `export_with_card`.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import numpy as np
import torch

from digit_knower.data.mnist import Mnist
from digit_knower.reader.classes import CLASSES, softmax
from digit_knower.reader.predictor import MODEL_FILE, WEIGHTS_FILE, Network
from digit_knower.training import model_card
from digit_knower.training.config import TrainConfig
from digit_knower.training.model import DigitCNN, architecture, count_parameters, predict_logits

# ONNX Runtime and torch must agree this closely on every test image, or training fails.
MAX_PROB_DIFF: Final = 1e-4


class TrainingFailed(Exception):
    """Training ran but its result cannot be shipped (e.g. ONNX and torch disagree)."""


def export_onnx(model: DigitCNN, path: Path) -> None:
    """Write ONE self-contained ONNX file: input `image` [N,1,28,28], output `logits` [N,11] (the
    temperature applied)."""
    model.eval()
    example = torch.zeros(2, 1, 28, 28)
    # The exporter's chatter (e.g. "torchvision is not installed") is not for the user.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"image": {0: torch.export.Dim("batch")}},
            external_data=False,  # weights inside the file: no .onnx.data sidecar
            dynamo=True,
            verbose=False,
        )
    sidecars = list(path.parent.glob(path.name + ".data"))
    if sidecars:
        raise TrainingFailed(f"ONNX export left a weights sidecar {sidecars[0]}; the model must be one file")


def check_onnx_matches_torch(
    onnx_path: Path, torch_logits: torch.Tensor, images: np.ndarray, threads: int = 1
) -> float:
    """Run ONNX Runtime on every test image, as the reader runs it; fail unless argmaxes match and
    probabilities agree. Returns the largest probability difference."""
    ort_logits = Network.open(onnx_path, threads).logits(images)
    ort_probs, torch_probs = softmax(ort_logits), softmax(torch_logits.numpy())
    mismatched = int((ort_probs.argmax(1) != torch_probs.argmax(1)).sum())
    max_diff = float(np.abs(ort_probs - torch_probs).max())
    if mismatched or max_diff >= MAX_PROB_DIFF:
        raise TrainingFailed(
            f"the ONNX export disagrees with torch on the test set: {mismatched} different predictions, "
            f"largest probability difference {max_diff:.2e} (limit {MAX_PROB_DIFF:.0e})"
        )
    return max_diff


def export_with_card(
    model: DigitCNN,
    cfg: TrainConfig,
    mnist: Mnist,
    out: Path,
    *,
    seed: int,
    threads: int,
    history: list[dict[str, float]],
    val_accuracy: float,
    reader: dict[str, Any],
    cache_dir: Path,
) -> dict[str, Any]:
    """A trained, calibrated model into `out`: the MNIST test set scored (once), the ONNX file
    exported and checked against torch, the weights, and the card with the reader's figures on the
    test-side sets. Training and fine-tuning both end here; the card is returned, not written."""
    test_logits = predict_logits(model, torch.from_numpy(mnist.test.images.copy()))
    onnx_path = out / MODEL_FILE
    export_onnx(model, onnx_path)
    max_diff = check_onnx_matches_torch(onnx_path, test_logits, mnist.test.images, threads)
    torch.save(model.state_dict(), out / WEIGHTS_FILE)

    card = model_card.build(
        onnx_path,
        test_logits=test_logits.numpy(),
        test_labels=mnist.test.labels,
        architecture=architecture(cfg.widths, CLASSES),
        parameters=count_parameters(model),
        config={k: v for k, v in asdict(cfg).items() if k not in ("seed", "threads")},
        seed=seed,
        threads=threads,
        data_sha256=mnist.sha256,
        history=history,
        val_accuracy=val_accuracy,
        reader=reader,
        onnx_max_prob_diff=max_diff,
    )
    # The reader as served (preprocessing, segmentation, verdicts), on the test-side sets.
    card["reader"].update(model_card.reader_test_figures(out, card, mnist.test, cache_dir))
    return card
