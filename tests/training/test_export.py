"""Export: the ONNX file reads as torch does, read as the reader reads it, or training fails loudly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from digit_knower.data.mnist import Mnist
from digit_knower.reader.classes import softmax
from digit_knower.reader.predictor import Network
from digit_knower.training import export
from digit_knower.training.config import TrainConfig
from digit_knower.training.export import TrainingFailed
from digit_knower.training.model import DigitCNN, predict_logits


def test_onnx_runtime_and_torch_agree(smoke_run: tuple[dict, Path], mnist: Mnist, smoke: TrainConfig) -> None:
    card, out = smoke_run
    assert card["onnx_max_prob_diff"] < export.MAX_PROB_DIFF
    test = mnist.test
    onnx_probs = softmax(Network.open(out / "digit_cnn.onnx").logits(test.images))
    model = DigitCNN(widths=smoke.widths)
    model.load_state_dict(torch.load(out / "digit_cnn.pt"))
    torch_probs = softmax(predict_logits(model, torch.from_numpy(test.images.copy())).numpy())
    assert np.array_equal(onnx_probs.argmax(1), torch_probs.argmax(1))
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4
    assert (onnx_probs[:, :10].argmax(1) == test.labels).mean() == pytest.approx(card["test_accuracy"])


def test_a_disagreeing_export_fails_training_loudly(smoke_run: tuple[dict, Path], mnist: Mnist) -> None:
    _, out = smoke_run
    test = mnist.test
    wrong = torch.from_numpy(Network.open(out / "digit_cnn.onnx").logits(test.images))
    wrong[0] += torch.tensor([0.0, 0, 0, 0, 0, 0, 0, 0, 0, 50.0, 0])  # one image now reads as a 9
    with pytest.raises(
        TrainingFailed, match=r"disagrees with torch.*different predictions, largest probability"
    ):
        export.check_onnx_matches_torch(out / "digit_cnn.onnx", wrong, test.images)
