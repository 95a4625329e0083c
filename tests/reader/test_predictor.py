"""The public contract: Predictor.load(), predict, predict_batch, Prediction and the two errors."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from digit_knower import EmptyImageError, InvalidImageError, Prediction, Predictor
from digit_knower.data.mnist import Split, load_test
from digit_knower.reader import second_look
from digit_knower.reader.predictor import BATCH_CHUNK, CARD_FILE, MODEL_FILE, ModelNotFoundError, Network
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training.drawings import redraw as drawing


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(SHIPPED_MODEL_DIR)


@pytest.fixture(scope="module")
def mnist_test(mnist_dir: Path) -> Split:
    return load_test(mnist_dir, download=False)


@pytest.fixture(scope="module")
def canvases(mnist_test: Split) -> list[np.ndarray]:
    """48 MNIST test digits drawn on 280x280 RGBA canvases, black on transparent."""
    rng = np.random.default_rng(7)
    pictures = []
    for digit in mnist_test.images[:48]:
        points = drawing.skeleton_points(digit)
        pictures.append(
            drawing.black_on_transparent(
                drawing.trace(points, drawing.random_stroke(rng, points, (0.4, 0.9), None))
            )
        )
    return pictures


def png(picture: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


# --- The package's face -------------------------------------------------------------------


def test_the_contract_names_come_from_the_package_top_level():
    import digit_knower

    assert set(digit_knower.__all__) == {"Predictor", "Prediction", "EmptyImageError", "InvalidImageError"}
    assert issubclass(EmptyImageError, ValueError)
    assert issubclass(InvalidImageError, ValueError)


def test_importing_the_package_loads_neither_onnx_runtime_nor_torch():
    code = (
        "import sys, digit_knower\n"
        "assert 'onnxruntime' not in sys.modules, 'onnxruntime imported by the package'\n"
        "from digit_knower import Predictor\n"
        "assert 'torch' not in sys.modules, 'torch imported by the Predictor'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# --- Loading ------------------------------------------------------------------------------


def test_load_loads_each_model_folder_once():
    assert Predictor.load() is Predictor.load()
    assert Predictor.load() is Predictor.load(SHIPPED_MODEL_DIR)


def test_load_follows_the_model_dir_setting_and_the_card_gives_the_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canvases: list[np.ndarray]
):
    from digit_knower.settings import get_settings

    shutil.copy(SHIPPED_MODEL_DIR / MODEL_FILE, tmp_path / MODEL_FILE)
    card = json.loads((SHIPPED_MODEL_DIR / CARD_FILE).read_text()) | {"version": "dk-test-0001"}
    (tmp_path / CARD_FILE).write_text(json.dumps(card))
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_DIR", str(tmp_path))
    get_settings.cache_clear()

    other = Predictor.load()
    assert other is not Predictor.load(SHIPPED_MODEL_DIR)
    assert other.card["version"] == "dk-test-0001"
    assert other.predict(canvases[0]).model_version == "dk-test-0001"


def test_a_missing_model_says_how_to_get_one(tmp_path: Path):
    with pytest.raises(ModelNotFoundError, match="digit-knower train"):
        Predictor.load(tmp_path)


def test_a_model_without_a_card_version_is_refused(tmp_path: Path):
    shutil.copy(SHIPPED_MODEL_DIR / MODEL_FILE, tmp_path / MODEL_FILE)
    (tmp_path / CARD_FILE).write_text(json.dumps({"architecture": "?"}))
    with pytest.raises(ModelNotFoundError, match="no 'version'"):
        Predictor.from_dir(tmp_path)


def test_a_broken_model_file_is_refused(tmp_path: Path):
    (tmp_path / MODEL_FILE).write_bytes(b"not an onnx model")
    shutil.copy(SHIPPED_MODEL_DIR / CARD_FILE, tmp_path / CARD_FILE)
    with pytest.raises(ModelNotFoundError, match="not a loadable ONNX model"):
        Predictor.from_dir(tmp_path)


def test_the_card_cannot_be_changed_from_outside(predictor: Predictor):
    predictor.card["version"] = "tampered"
    assert predictor.card["version"] == predictor.model_version != "tampered"


# --- Predictions --------------------------------------------------------------------------


def test_a_prediction_holds_what_the_contract_promises(predictor: Predictor, canvases: list[np.ndarray]):
    prediction = predictor.predict(canvases[0])
    assert isinstance(prediction, Prediction)
    assert isinstance(prediction.digit, int)
    assert 0 <= prediction.digit <= 9
    assert len(prediction.probabilities) == 10
    assert all(isinstance(p, float) and 0 <= p <= 1 for p in prediction.probabilities)
    assert sum(prediction.probabilities) == pytest.approx(1, abs=1e-12)
    assert (
        prediction.confidence == max(prediction.probabilities) == prediction.probabilities[prediction.digit]
    )
    assert prediction.model_input.shape == (28, 28)
    assert prediction.model_input.dtype == np.uint8
    assert not prediction.model_input.flags.writeable
    assert prediction.model_version == predictor.card["version"]
    assert prediction.verdict in ("digit", "unsure", "not_a_digit", "several_digits")
    assert prediction.digits == (prediction.digit,)  # one drawn digit
    assert 0 <= prediction.not_a_digit_probability <= 1


def test_drawn_digits_are_read(predictor: Predictor, canvases: list[np.ndarray], mnist_test: Split):
    digits = [predictor.predict(canvas).digit for canvas in canvases]
    assert np.mean(np.array(digits) == mnist_test.labels[: len(canvases)]) >= 0.95


def test_bytes_pil_images_and_arrays_give_the_same_prediction(
    predictor: Predictor, canvases: list[np.ndarray]
):
    from_array = predictor.predict(canvases[1])
    for same in (png(canvases[1]), Image.fromarray(canvases[1])):
        prediction = predictor.predict(same)
        assert prediction.probabilities == from_array.probabilities
        assert np.array_equal(prediction.model_input, from_array.model_input)


def test_predict_batch_gives_predict_s_answers_in_order(predictor: Predictor, canvases: list[np.ndarray]):
    batch = predictor.predict_batch(canvases)
    assert len(batch) == len(canvases)
    for canvas, prediction in zip(canvases, batch, strict=True):
        single = predictor.predict(canvas)
        assert prediction.digit == single.digit
        assert np.array_equal(prediction.model_input, single.model_input)
        np.testing.assert_allclose(prediction.probabilities, single.probabilities, atol=1e-6)
    assert predictor.predict_batch([]) == []


def test_a_predictor_scoring_on_two_threads_reads_as_the_one_thread_servers_use(
    predictor: Predictor, canvases: list[np.ndarray]
):
    two_threads = Predictor.from_dir(SHIPPED_MODEL_DIR, threads=2)
    for one, two in zip(predictor.predict_batch(canvases), two_threads.predict_batch(canvases), strict=True):
        assert (one.verdict, one.digits) == (two.verdict, two.digits)
        np.testing.assert_allclose(one.probabilities, two.probabilities, atol=1e-6)


def test_predict_batch_names_the_picture_it_cannot_read(predictor: Predictor, canvases: list[np.ndarray]):
    with pytest.raises(EmptyImageError, match=r"Image 2 of the batch: The picture is blank"):
        predictor.predict_batch([canvases[0], canvases[1], np.zeros((280, 280), np.uint8)])


@pytest.mark.slow
def test_mnist_digits_get_the_answer_the_raw_tensors_get(predictor: Predictor, mnist_test: Split):
    session = ort.InferenceSession(str(SHIPPED_MODEL_DIR / MODEL_FILE), providers=["CPUExecutionProvider"])

    def logits(images: np.ndarray) -> np.ndarray:
        return session.run(["logits"], {"image": (images.astype(np.float32) / 255)[:, np.newaxis]})[0]

    # The raw tensors, with the same second look at the undecided ones; the likeliest digit.
    looked = second_look.with_second_look(logits(mnist_test.images), mnist_test.images, logits)
    raw = looked[:, :10].argmax(axis=1)
    through_predict = np.array([p.digit for p in predictor.predict_batch(list(mnist_test.images))])
    assert np.mean(through_predict == raw) >= 0.999


def test_eight_threads_at_once_get_the_answers_one_thread_gets(
    predictor: Predictor, canvases: list[np.ndarray]
):
    expected = [predictor.predict(canvas) for canvas in canvases]
    start = threading.Barrier(8)
    results: dict[int, list[Prediction]] = {}

    def worker(index: int) -> None:
        order = np.random.default_rng(index).permutation(len(canvases))
        start.wait()
        answers = {int(i): predictor.predict(canvases[i]) for i in order}
        results[index] = [answers[i] for i in range(len(canvases))]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(8))
    for answers in results.values():
        for got, want in zip(answers, expected, strict=True):
            assert got.digit == want.digit
            assert got.probabilities == want.probabilities
            assert np.array_equal(got.model_input, want.model_input)


# --- The network alone --------------------------------------------------------------------


def test_the_network_gives_the_logits_onnx_runtime_gives_for_any_number_of_inputs(
    predictor: Predictor, mnist_test: Split
):
    inputs = mnist_test.images[: BATCH_CHUNK + 100]  # more than one run takes
    session = ort.InferenceSession(str(SHIPPED_MODEL_DIR / MODEL_FILE), providers=["CPUExecutionProvider"])
    expected = session.run(["logits"], {"image": (inputs.astype(np.float32) / 255)[:, np.newaxis]})[0]
    logits = predictor.network.logits(inputs)
    assert logits.shape == (len(inputs), 11)
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-5)
    assert predictor.network.logits(inputs[:0]).shape == (0, 11)


def test_a_network_needs_no_model_card(tmp_path: Path):
    shutil.copy(SHIPPED_MODEL_DIR / MODEL_FILE, tmp_path / MODEL_FILE)
    assert Network.open(tmp_path / MODEL_FILE).logits(np.zeros((2, 28, 28), np.uint8)).shape == (2, 11)


def test_a_network_without_the_agreed_input_and_output_is_refused(tmp_path: Path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["pixels"], ["scores"])],
        "not-a-digit-model",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [None, 1, 28, 28])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 1, 28, 28])],
    )
    onnx.save(helper.make_model(graph), tmp_path / MODEL_FILE)
    with pytest.raises(ModelNotFoundError, match="needs input 'image' and output 'logits'"):
        Network.open(tmp_path / MODEL_FILE)


# --- Bad input ----------------------------------------------------------------------------


def truncated_png() -> bytes:
    noise = np.random.default_rng(0).integers(0, 256, (280, 280), dtype=np.uint8)
    data = png(noise)
    return data[: len(data) // 2]


def bomb_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buffer, format="PNG")  # 36 megapixels, a few kilobytes
    return buffer.getvalue()


def with_nan() -> np.ndarray:
    picture = np.zeros((280, 280), np.float32)
    picture[100, 100] = np.nan
    return picture


BAD_INPUT = {
    "text-bytes": (lambda: b"GIF? no, just text", InvalidImageError, "not a picture"),
    "truncated-png": (truncated_png, InvalidImageError, "damaged or incomplete"),
    "decompression-bomb": (bomb_png, InvalidImageError, "too large"),
    "over-16-megapixels-array": (lambda: np.zeros((4001, 4001), np.uint8), InvalidImageError, "too large"),
    "int64-array": (lambda: np.zeros((280, 280), np.int64), InvalidImageError, "dtype int64"),
    "float-0-to-255": (lambda: np.full((28, 28), 200.0), InvalidImageError, "values 0..1"),
    "nan": (with_nan, InvalidImageError, "NaN"),
    "two-channels": (lambda: np.zeros((280, 280, 2), np.uint8), InvalidImageError, r"shape \(280, 280, 2\)"),
    "one-dimension": (lambda: np.zeros(784, np.uint8), InvalidImageError, r"shape \(784,\)"),
    "no-pixels": (lambda: np.zeros((0, 28), np.uint8), InvalidImageError, "no pixels"),
    "a-path-string": (lambda: "digit.png", InvalidImageError, "read_bytes"),
    "all-black": (lambda: np.zeros((280, 280, 3), np.uint8), EmptyImageError, "blank"),
    "all-white": (lambda: np.full((280, 280, 3), 255, np.uint8), EmptyImageError, "blank"),
    "fully-transparent": (lambda: np.zeros((280, 280, 4), np.uint8), EmptyImageError, "fully transparent"),
    "a-speck": (lambda: np.pad(np.full((6, 6), 255, np.uint8), 137), EmptyImageError, "speck"),
}


@pytest.mark.parametrize(("make", "error", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_gets_a_clear_error(predictor: Predictor, make, error: type[ValueError], message: str):
    with pytest.raises(error, match=message):
        predictor.predict(make())


# ---------------------------------------------------------------------------------------------
# Numbers written naturally: digits a pixel or two apart, or touching (reader/cuts.py)
# ---------------------------------------------------------------------------------------------


def number(digits: list[np.ndarray], gap: int | list[int], scale: int = 3) -> np.ndarray:
    """MNIST digits in a row, `gap` pixels between their inked columns (negative: overlapping; a
    list: each gap in turn), on a black margin, enlarged `scale` times as a canvas would give them."""
    cropped = [
        d[:, np.flatnonzero(d.max(axis=0) >= 26)[0] : np.flatnonzero(d.max(axis=0) >= 26)[-1] + 1]
        for d in digits
    ]
    gaps = gap if isinstance(gap, list) else [gap] * (len(cropped) - 1)
    width = sum(c.shape[1] for c in cropped) + sum(gaps)
    row = np.zeros((36, width + 8), np.uint8)
    left = 4
    for c, after in zip(cropped, [*gaps, 0], strict=True):
        row[4:32, left : left + c.shape[1]] = np.maximum(row[4:32, left : left + c.shape[1]], c)
        left += c.shape[1] + after
    return np.kron(row, np.ones((scale, scale), np.uint8))


def first_of(mnist_test: Split, *labels: int) -> list[np.ndarray]:
    return [mnist_test.images[np.flatnonzero(mnist_test.labels == label)[0]] for label in labels]


NUMBERS = [(4, 2), (4, 2, 7), (3, 5), (1, 9, 0), (6, 8), (5, 7, 3), (9, 1), (2, 0)]


@pytest.mark.parametrize("gap", [2, 0])
def test_digits_two_pixels_apart_or_touching_are_read_as_several_in_order(
    predictor: Predictor, mnist_test: Split, gap: int
):
    # Fixed numbers of the first test digits of each kind; the bench's 500 a gap hold the goals
    # (95% found 1-3 px apart, 85% touching): here, most, and each one read whole.
    read = [predictor.predict(number(first_of(mnist_test, *labels), gap)) for labels in NUMBERS]
    right = [
        p.verdict == "several_digits" and p.digits == labels for p, labels in zip(read, NUMBERS, strict=True)
    ]
    assert sum(right) >= 6, [(labels, p.verdict, p.digits) for p, labels in zip(read, NUMBERS, strict=True)]
    for prediction in read:
        if prediction.verdict == "several_digits":
            assert [p.verdict for p in prediction.parts] == ["digit"] * len(prediction.digits)


MIXED = [(4, 2, 7), (1, 9, 0), (5, 7, 3), (3, 5, 8), (6, 2, 1), (9, 4, 4)]


def test_two_digits_written_close_beside_one_a_gap_apart_are_all_read(
    predictor: Predictor, mnist_test: Split
):
    # "4 27": the gap parts the 4 from the rest, and the part holding "27", read as no sure digit,
    # is cut in turn. Each number once gap-first, once gap-last.
    for labels in MIXED:
        for gaps in ([12, 1], [1, 12]):
            prediction = predictor.predict(number(first_of(mnist_test, *labels), gaps))
            assert (prediction.verdict, prediction.digits) == ("several_digits", labels), gaps
            assert len(prediction.parts) == 3


@pytest.mark.parametrize("labels", [(4, 1), (6, 1), (9, 1), (1, 7)])
def test_two_digits_a_pixel_apart_that_read_whole_as_one_sure_digit_are_cut_apart(
    predictor: Predictor, mnist_test: Split, labels: tuple[int, int]
):
    # Whole, each reads as a sure first digit (92-97%); but blank columns part the ink, and cut
    # there, each part reads more surely still.
    prediction = predictor.predict(number(first_of(mnist_test, *labels), 1))
    assert (prediction.verdict, prediction.digits) == ("several_digits", labels)


@pytest.mark.parametrize("labels", [(3, 1), (6, 5), (7, 9)])
def test_digits_run_together_that_no_cut_tells_apart_are_unsure_never_not_a_digit(
    predictor: Predictor, mnist_test: Split, labels: tuple[int, int]
):
    # Overlapping by 3 px, these read whole as no digit, and no way to cut them reads surely; but a
    # way reads as digits throughout: the reader says it is not sure, not that there is no digit.
    prediction = predictor.predict(number(first_of(mnist_test, *labels), -3))
    assert prediction.verdict == "unsure"
    assert prediction.digits == (prediction.digit,)


def test_a_wide_single_digit_is_not_cut_apart(predictor: Predictor, mnist_test: Split):
    for label in (0, 7, 2):
        digit = first_of(mnist_test, label)[0]
        wide = np.asarray(Image.fromarray(digit).resize((56, 28), Image.Resampling.BILINEAR))
        prediction = predictor.predict(np.kron(wide, np.ones((4, 4), np.uint8)))
        assert prediction.verdict != "several_digits", label
    # A 7 with a long bar, twice as wide as it is high.
    seven = np.zeros((100, 200), np.uint8)
    seven[10:22, 10:190] = 255
    for row in range(22, 95):
        col = 180 - (row - 22) * 0.9
        seven[row, int(col) - 6 : int(col) + 6] = 255
    assert predictor.predict(seven).verdict != "several_digits"


def test_a_very_wide_scribble_is_read_sanely_with_a_bounded_number_of_parts(predictor: Predictor):
    from digit_knower.reader import cuts, preprocess

    rng = np.random.default_rng(3)
    scribble = np.zeros((200, 1000), np.uint8)
    columns = np.arange(1000)
    rows = (100 + 90 * np.sin(columns / 7) * rng.uniform(0.5, 1, 1000)).astype(int)
    for width in range(8):
        scribble[np.clip(rows + width, 0, 199), columns] = 255
    ink = preprocess.ink_of(scribble)
    found = cuts.cuts(ink, preprocess.strong(ink))
    shifts, most = len(cuts.SHIFTS), cuts.MAX_CUTS
    assert len(found.parts) <= 2 * shifts * most + shifts**2 * most * (most - 1) // 2  # 120
    assert all(2 <= len(way) <= cuts.MAX_PARTS for way in found.ways)
    prediction = predictor.predict(scribble)
    assert prediction.verdict in ("digit", "unsure", "not_a_digit", "several_digits")
    assert len(prediction.digits) <= cuts.MAX_PARTS
