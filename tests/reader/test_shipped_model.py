"""The shipped model: a self-contained ONNX file that reads MNIST at >= 99.4%, without torch, reads
real people's handwriting in the styles MNIST lacks, and whose card records how it reads people's
drawings and what it was trained on."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from digit_knower.data.mnist import load_test
from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import PenDigits, load_pendigits
from digit_knower.reader.predictor import MODEL_FILE, Network, Predictor
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training import evaluate
from digit_knower.training.drawings import nondigits, omniglot_strokes, pen_paths, redraw

MODEL_DIR = SHIPPED_MODEL_DIR


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads((MODEL_DIR / "model_card.json").read_text())


def test_the_shipped_model_reads_at_least_99_4_percent_of_the_test_set(mnist_dir: Path, card: dict) -> None:
    test = load_test(mnist_dir, download=False)
    predicted = Network.open(MODEL_DIR / MODEL_FILE).logits(test.images)[:, :10].argmax(1)
    accuracy = (predicted == test.labels).mean()
    assert accuracy >= 0.994  # 99.49%; the reader's goal through predict_batch is in test_reader
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


def test_the_card_records_each_source_it_was_trained_on(card: dict) -> None:
    sources = card["sources"]
    assert {"mnist", "pen", "omniglot"} <= sources.keys()
    assert sum(source["share"] for source in sources.values()) == pytest.approx(1.0, abs=0.01)
    assert sources["pen"]["sha256"] and sources["omniglot"]["sha256"]
    assert sources["pen"]["figures"]["val_curves_read_right"] >= 0.98
    assert sources["omniglot"]["figures"]["val_turned_away"] >= 0.85


@pytest.mark.xfail(
    strict=True,
    reason="the goals on real hands are not all reached: pen digits 98.47% read right (goal 99%), "
    "Omniglot 87.9% turned away (goal 90%); docs/figures.md. Strict: once they pass, this mark must go.",
)
def test_the_card_s_real_hands_figures_reach_the_goals(card: dict) -> None:
    reader = card["reader"]
    assert reader["val_pen_curves_read_right"] >= 0.99 and reader["val_pen_curves_refused"] <= 0.01
    assert reader["val_omniglot_turned_away"] >= 0.9


# Styles MNIST's writers rarely use, picked by their shape from the pen digits' validation rows
# (never by how the model reads them). The paths' y grows upward, both axes 0-100.
def european_one(path: np.ndarray) -> bool:
    """A 1 begun with a long upstroke from the lower left to the top."""
    top = int(np.argmax(path[:, 1]))
    return top >= 1 and path[0, 1] < 75 and path[0, 0] < path[top, 0] - 25


def crossbar_seven(path: np.ndarray) -> bool:
    """A 7 ended with a level stroke across its middle."""
    last = path[-1] - path[-2]
    return abs(last[0]) > 3 * abs(last[1]) and 20 < path[-1, 1] < 70 and 20 < path[-2, 1] < 70


def open_four(path: np.ndarray) -> bool:
    """A 4 whose two strokes start at the top far apart: its top is open."""
    later_top = 2 + int(np.argmax(path[2:, 1]))
    return path[0, 1] > 80 and path[later_top, 1] > 80 and path[later_top, 0] - path[0, 0] > 40


STYLES = {"European 1": (1, european_one), "crossbar 7": (7, crossbar_seven), "open 4": (4, open_four)}
# Each style's first few validation rows; and the thickest brush the page's slider gives.
PER_STYLE = 6
THICK_BRUSH_PX = 40.0


@pytest.fixture(scope="module")
def pen(data_dir: Path) -> PenDigits:
    return load_pendigits(data_dir, download=False)


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.from_dir(MODEL_DIR)


def style_rows(pen: PenDigits, digit: int, style: Callable[[np.ndarray], bool]) -> list[int]:
    rows = pen_paths.validation_rows(len(pen.labels))
    chosen = [int(r) for r in rows if pen.labels[r] == digit and style(pen.paths[r].astype(float))]
    return chosen[:PER_STYLE]


@pytest.mark.parametrize("name", list(STYLES))
def test_real_people_s_styles_are_read_right(name: str, pen: PenDigits, predictor: Predictor) -> None:
    digit, style = STYLES[name]
    rows = style_rows(pen, digit, style)
    assert len(rows) == PER_STYLE
    rng = np.random.default_rng(19)
    for curve in (True, False):
        pictures = [pen_paths.paint(pen_paths.draw(pen.paths[r], rng, curve=curve), rng)[0] for r in rows]
        readings = [(p.verdict, p.digit) for p in predictor.predict_batch(pictures)]
        assert readings == [("digit", digit)] * len(rows), (name, "curve" if curve else "polyline", rows)


def test_a_zero_drawn_with_the_thickest_brush_is_read_as_a_zero(pen: PenDigits, predictor: Predictor) -> None:
    rows = [int(r) for r in pen_paths.validation_rows(len(pen.labels)) if pen.labels[r] == 0][:PER_STYLE]
    rng = np.random.default_rng(19)
    pictures = []
    for row in rows:
        line = pen_paths.catmull_rom(pen_paths.on_screen(pen.paths[row]))
        lines, _ = pen_paths.fit_on_canvas([line], rng, sizes=(0.5, 0.7))
        pictures.append(redraw.POLARITIES["black-on-white"](nondigits.render(lines, THICK_BRUSH_PX)))
    assert [(p.verdict, p.digit) for p in predictor.predict_batch(pictures)] == [("digit", 0)] * len(rows)


def test_omniglot_letters_are_turned_away_or_called_unsure(data_dir: Path, predictor: Predictor) -> None:
    letters = load_omniglot(data_dir, download=False).valid
    rng = np.random.default_rng(19)
    pictures = [pen_paths.paint(omniglot_strokes.draw(letters.polylines(i), rng), rng)[0] for i in range(200)]
    verdicts = [p.verdict for p in predictor.predict_batch(pictures)]
    turned_away = sum(v in ("not_a_digit", "unsure") for v in verdicts) / len(verdicts)
    # The floor it holds (the goal, 90% of all 1,000, is the card's: see above).
    assert turned_away >= 0.8, f"{turned_away:.1%} of Omniglot's letters turned away or called unsure"


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
    # What it was trained on, and how it reads the real hands' validation sets.
    assert "trained on" in result.stdout and card["sources"]["pen"]["sha256"][:12] in result.stdout
    curves = card["sources"]["pen"]["figures"]["val_curves_read_right"]
    assert f"val curves read right: {curves:.2%}" in result.stdout


def test_evaluate_explains_a_folder_without_a_model(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    from digit_knower.cli import main

    assert main(["evaluate", "--model-dir", str(tmp_path), "--data-dir", str(mnist_dir)]) == 2
    assert f"{tmp_path / 'digit_cnn.onnx'} not found" in capsys.readouterr().out


def test_evaluate_explains_a_file_that_is_not_an_onnx_model(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    from digit_knower.cli import main

    (tmp_path / "digit_cnn.onnx").write_bytes(b"not a model")
    assert main(["evaluate", "--model-dir", str(tmp_path), "--data-dir", str(mnist_dir)]) == 2
    assert "could not be run with ONNX Runtime" in capsys.readouterr().out
