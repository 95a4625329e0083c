"""The shipped model in model/: a self-contained ONNX file that reads MNIST at >= 99.65%, without torch,
and whose card records how it reads people's drawings."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from digit_knower.data.mnist import load_test
from digit_knower.reader.predictor import MODEL_FILE, Network
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training import evaluate

MODEL_DIR = SHIPPED_MODEL_DIR


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((MODEL_DIR / "model_card.json").read_text())


def test_the_shipped_model_reads_at_least_99_65_percent_of_the_test_set(mnist_dir: Path, card: dict) -> None:
    test = load_test(mnist_dir, download=False)
    predicted = Network.open(MODEL_DIR / MODEL_FILE).logits(test.images)[:, :10].argmax(1)
    accuracy = (predicted == test.labels).mean()
    assert accuracy >= 0.9965
    # The card tells the truth about the file beside it.
    assert accuracy == pytest.approx(card["test_accuracy"], abs=1e-9)
    assert np.array_equal(
        evaluate.confusion_matrix(test.labels, predicted), np.array(card["confusion_matrix"])
    )


def test_the_onnx_file_is_one_self_contained_file_with_the_agreed_interface() -> None:
    assert not list(MODEL_DIR.glob("*.data")), "weights must be inside the .onnx file"
    session = ort.InferenceSession(str(MODEL_DIR / "digit_cnn.onnx"), providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    (logits,) = session.get_outputs()
    assert (image.name, image.type, image.shape[1:]) == ("image", "tensor(float)", [1, 28, 28])
    # The ten digits, then "not a digit".
    assert (logits.name, logits.type, logits.shape[1:]) == ("logits", "tensor(float)", [11])
    # Normalisation is inside: a blank (all-zero) input is valid and gives finite logits for a batch of 3.
    out = session.run(["logits"], {"image": np.zeros((3, 1, 28, 28), np.float32)})[0]
    assert out.shape == (3, 11) and np.isfinite(out).all()


def test_the_card_describes_a_real_training_run(card: dict) -> None:
    assert re.fullmatch(r"dk-\d{8}-[0-9a-f]{8}", card["version"])
    assert card["seed"] == 0, "the shipped model comes from the default seed"
    assert card["val_accuracy"] >= 0.99
    assert len(card["history"]) == card["hyperparameters"]["epochs"]
    assert card["onnx_max_prob_diff"] < 1e-4
    for png in ("training_curves.png", "confusion_matrix.png"):
        assert (MODEL_DIR / png).read_bytes().startswith(b"\x89PNG")
    assert (MODEL_DIR / "digit_cnn.pt").stat().st_size > 100_000


def test_the_card_records_how_the_model_reads_people(card: dict) -> None:
    """The temperature and thresholds it serves with, and what they do, measured once on test sets."""
    reader = card["reader"]
    assert 0.1 < reader["temperature"] < 10
    assert 0 < reader["not_a_digit_threshold"] <= 1 and 0 < reader["unsure_threshold"] < 1
    assert reader["test_ece"] < reader["test_ece_before_temperature"]
    assert reader["test_ece"] <= 0.01
    assert reader["test_nondigits_caught"] >= 0.95
    assert reader["test_mouse_style_turned_away"] <= 0.01


def test_evaluate_runs_without_torch_and_prints_the_report(mnist_dir: Path, card: dict) -> None:
    # sys.modules["torch"] = None makes any `import torch` fail, as on a serving install.
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from digit_knower.cli import main\n"
        f"sys.exit(main(['evaluate', '--model-dir', {str(MODEL_DIR)!r}, '--data-dir', {str(mnist_dir)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"model {card['version']}" in result.stdout
    assert f"accuracy: {card['test_accuracy']:.2%}" in result.stdout
    assert "per-class accuracy:" in result.stdout
    assert "confusion matrix (rows: true digit, columns: predicted):" in result.stdout


def test_evaluate_explains_a_folder_without_a_model(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    from digit_knower.cli import main

    assert main(["evaluate", "--model-dir", str(tmp_path), "--data-dir", str(mnist_dir)]) == 2
    assert f"{tmp_path / 'digit_cnn.onnx'} not found" in capsys.readouterr().out


def test_evaluate_explains_a_file_that_is_not_an_onnx_model(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    from digit_knower.cli import main

    (tmp_path / "digit_cnn.onnx").write_bytes(b"not a model")
    assert main(["evaluate", "--model-dir", str(tmp_path), "--data-dir", str(mnist_dir)]) == 2
    assert "could not be run with ONNX Runtime" in capsys.readouterr().out
