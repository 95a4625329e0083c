"""Training: a smoke run on a few thousand digits, the data mix, the augmentation, calibration,
reproducibility and the export check."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from digit_knower.data.mnist import Mnist, load_mnist
from digit_knower.settings import get_settings
from digit_knower.training import evaluate, model_card, train
from digit_knower.training.train import TrainConfig, TrainingFailed

# A few thousand digits, one thread: a minute or two of CPU, even on a busy machine.
SMOKE = TrainConfig(
    epochs=2, batch_size=64, train_limit=2500, val_size=1000, threads=1, nondigits=1200, val_nondigits=300
)
TINY = TrainConfig(epochs=1, batch_size=100, train_limit=500, val_size=200, nondigits=300, val_nondigits=60)

CARD_KEYS = {
    "version",
    "created_at",
    "architecture",
    "parameters",
    "hyperparameters",
    "seed",
    "data_sha256",
    "library_versions",
    "train_seconds",
    "val_accuracy",
    "test_accuracy",
    "per_class_accuracy",
    "confusion_matrix",
    "history",
    "reader",
    "seconds",
}


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> Mnist:
    return load_mnist(mnist_dir, download=False)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def smoke_run(
    mnist_dir: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("model")
    return train.run(SMOKE, mnist_dir, out, cache_dir=cache_dir), out


def test_the_loss_falls_and_accuracy_is_far_above_chance(smoke_run: tuple[dict, Path]) -> None:
    card, _ = smoke_run
    history = card["history"]
    assert len(history) == SMOKE.epochs
    assert history[-1]["loss"] < history[0]["loss"]
    assert card["val_accuracy"] > 0.9
    assert card["test_accuracy"] > 0.9


def test_all_outputs_are_written_and_the_onnx_file_is_self_contained(smoke_run: tuple[dict, Path]) -> None:
    _, out = smoke_run
    expected = {
        "digit_cnn.onnx",
        "digit_cnn.pt",
        "model_card.json",
        "training_curves.png",
        "confusion_matrix.png",
    }
    assert {p.name for p in out.iterdir()} == expected
    for png in ("training_curves.png", "confusion_matrix.png"):
        assert (out / png).read_bytes().startswith(b"\x89PNG")
    session = ort.InferenceSession(str(out / "digit_cnn.onnx"), providers=["CPUExecutionProvider"])
    (image,) = session.get_inputs()
    (logits,) = session.get_outputs()
    assert (image.name, image.type, image.shape[1:]) == ("image", "tensor(float)", [1, 28, 28])
    assert (logits.name, logits.shape[1:]) == ("logits", [11])  # ten digits, then "not a digit"


def test_the_card_is_filled_in(smoke_run: tuple[dict, Path]) -> None:
    card, out = smoke_run
    assert json.loads((out / "model_card.json").read_text()) == card
    assert card.keys() >= CARD_KEYS
    assert card["version"].startswith("dk-")
    assert card["parameters"] > 10_000
    assert card["seed"] == SMOKE.seed
    assert card["hyperparameters"]["epochs"] == SMOKE.epochs
    assert card["data_sha256"]["t10k-images-idx3-ubyte"].startswith("0fa7898d")
    assert {"torch", "onnxruntime", "numpy"} <= card["library_versions"].keys()
    assert card["train_seconds"] > 0
    matrix = np.array(card["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == 10_000
    assert card["test_accuracy"] == pytest.approx(np.trace(matrix) / 10_000)
    assert len(card["per_class_accuracy"]) == 10
    assert all(0 <= a <= 1 for a in card["per_class_accuracy"])


def test_onnx_runtime_and_torch_agree(smoke_run: tuple[dict, Path], mnist_dir: Path) -> None:
    card, out = smoke_run
    assert card["onnx_max_prob_diff"] < train.MAX_PROB_DIFF
    test = load_mnist(mnist_dir, download=False).test
    onnx_probs = evaluate.softmax(evaluate.onnx_logits(out / "digit_cnn.onnx", test.images))
    model = train.DigitCNN(widths=SMOKE.widths)
    model.load_state_dict(torch.load(out / "digit_cnn.pt"))
    torch_probs = evaluate.softmax(train.predict_logits(model, torch.from_numpy(test.images.copy())).numpy())
    assert np.array_equal(onnx_probs.argmax(1), torch_probs.argmax(1))
    assert np.abs(onnx_probs - torch_probs).max() < 1e-4
    assert (onnx_probs[:, :10].argmax(1) == test.labels).mean() == pytest.approx(card["test_accuracy"])


def test_a_disagreeing_export_fails_training_loudly(smoke_run: tuple[dict, Path], mnist: Mnist) -> None:
    _, out = smoke_run
    test = mnist.test
    wrong = torch.from_numpy(evaluate.onnx_logits(out / "digit_cnn.onnx", test.images))
    wrong[0] += torch.tensor([0.0, 0, 0, 0, 0, 0, 0, 0, 0, 50.0, 0])  # one image now reads as a 9
    with pytest.raises(
        TrainingFailed, match=r"disagrees with torch.*different predictions, largest probability"
    ):
        train.check_onnx_matches_torch(out / "digit_cnn.onnx", wrong, test.images)


def test_the_same_seed_gives_the_same_model_and_another_seed_does_not(mnist: Mnist, cache_dir: Path) -> None:
    def weights(cfg: TrainConfig) -> torch.Tensor:
        model, *_ = train.train_model(train.prepare_data(mnist, cfg, cache_dir), cfg)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    first = weights(TINY)
    assert torch.equal(first, weights(TINY))
    assert not torch.equal(first, weights(TrainConfig(**{**TINY.__dict__, "seed": 1})))


def test_stroke_augmentation_thickens_and_thins() -> None:
    x = torch.zeros(1, 1, 28, 28)
    x[..., 10:18, 12:15] = 1.0  # a 3-pixel-wide bar
    assert train.dilate(x, 3).sum() > train.dilate(x, 2).sum() > x.sum() > train.erode(x, 2).sum() > 0
    assert train.erode(x, 2)[0, 0, 14].sum() == 2  # the bar is one pixel narrower


def test_augmentation_is_batched_seeded_and_keeps_pixels_in_range() -> None:
    x = torch.rand(64, 1, 28, 28)
    a = train.augment(x, torch.Generator().manual_seed(3), TrainConfig())
    b = train.augment(x, torch.Generator().manual_seed(3), TrainConfig())
    assert a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, x)
    assert a.min() >= 0 and a.max() <= 1


def test_the_validation_split_is_held_out_of_training() -> None:
    train_part, val_part = train.split_indices(100, TrainConfig(val_size=20))
    assert len(val_part) == 20 and len(train_part) == 80
    assert not set(train_part.tolist()) & set(val_part.tolist())
    assert sorted(train_part.tolist() + val_part.tolist()) == list(range(100))
    again, _ = train.split_indices(100, TrainConfig(val_size=20))
    assert torch.equal(again, train_part)  # seeded: the same split every run


def test_bad_epochs_get_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = argparse.Namespace(
        epochs=0, batch_size=None, seed=0, threads=None, out=Path("x"), data_dir=Path("y")
    )
    assert train.main(args) == 2
    assert "--epochs must be at least 1, not 0" in capsys.readouterr().out


def test_missing_data_gets_a_clear_error_not_a_stack_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("digit_knower.data.mnist.MIRRORS", ("http://127.0.0.1:9/",))
    args = argparse.Namespace(
        epochs=1, batch_size=None, seed=0, threads=None, out=tmp_path / "m", data_dir=tmp_path
    )
    assert train.main(args) == 2
    assert "put the four MNIST files" in capsys.readouterr().out
    assert not (tmp_path / "m").exists()


def test_an_unreachable_database_only_warns(
    smoke_run: tuple[dict, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    card, _ = smoke_run
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:9/nothing")
    get_settings.cache_clear()
    model_card.register_in_database(card)
    output = capsys.readouterr().out
    assert output.startswith("warning: model not registered in the database (")
    assert len(output.strip().splitlines()) == 1


def test_the_card_is_registered_in_the_configured_database(
    smoke_run: tuple[dict, Path],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sqlalchemy as sa

    from digit_knower.store import Store

    card, _ = smoke_run
    Store(database_url).upgrade()
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    model_card.register_in_database(card)
    assert f"registered model {card['version']} in the database" in capsys.readouterr().out
    with sa.create_engine(database_url).connect() as connection:
        versions = connection.execute(sa.text("SELECT version FROM model_versions")).scalars().all()
    assert versions == [card["version"]]


def test_a_failed_export_check_leaves_the_served_model_untouched(
    mnist_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "digit_cnn.onnx").write_bytes(b"the model being served")

    def disagree(*args: object) -> float:
        raise TrainingFailed("the ONNX export disagrees with torch")

    monkeypatch.setattr(train, "check_onnx_matches_torch", disagree)
    with pytest.raises(TrainingFailed):
        train.run(TINY, mnist_dir, tmp_path, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "digit_cnn.onnx"]
    assert (tmp_path / "digit_cnn.onnx").read_bytes() == b"the model being served"


def test_each_batch_mixes_mnist_redrawn_digits_and_non_digits_in_their_shares(
    mnist: Mnist, cache_dir: Path
) -> None:
    data = train.prepare_data(mnist, TINY, cache_dir)
    plan = train.batches(data, torch.Generator().manual_seed(0), TINY)
    assert sorted(torch.cat([b["mnist"] for b in plan]).tolist()) == list(
        range(TINY.train_limit)
    )  # each once
    first = plan[0]
    assert len(first["redrawn"]) == round(TINY.batch_size * TINY.redrawn_share)
    assert len(first["nondigits"]) == round(TINY.batch_size * TINY.nondigit_share)
    x, y = train.make_batch(data, first, torch.Generator().manual_seed(0), TINY)
    assert x.shape == (TINY.batch_size, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert (y == 10).sum() == len(first["nondigits"])  # the eleventh class: not a digit


def test_redrawings_of_validation_digits_stay_in_validation(mnist: Mnist, cache_dir: Path) -> None:
    data = train.prepare_data(mnist, TINY, cache_dir)
    assert len(data.train["redrawn"].labels) == TINY.train_limit * TINY.redraws
    assert len(data.val["redrawn"].labels) == TINY.val_size * TINY.redraws
    assert torch.equal(data.val["redrawn"].labels[:: TINY.redraws], data.val["mnist"].labels)
    assert (len(data.train["nondigits"].labels), len(data.val["nondigits"].labels)) == (300, 60)
    # Drawn from their own seed: only a rare fixed figure (a heart has no random shape) comes out
    # the same as one in training.
    seen_in_training = set(map(bytes, data.train["nondigits"].images.numpy()))
    same = [image for image in data.val["nondigits"].images.numpy() if bytes(image) in seen_in_training]
    assert len(same) <= 0.05 * len(data.val["nondigits"].labels)


def test_drawings_are_made_once_then_read_from_the_cache(mnist: Mnist, tmp_path: Path) -> None:
    cfg = TrainConfig(
        **{**TINY.__dict__, "train_limit": 100, "val_size": 50, "nondigits": 40, "val_nondigits": 20}
    )
    first = train.prepare_data(mnist, cfg, tmp_path)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert len(files) == 2  # the training side and the validation side
    again = train.prepare_data(mnist, cfg, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    assert torch.equal(first.train["redrawn"].images, again.train["redrawn"].images)
    train.prepare_data(mnist, TrainConfig(**{**cfg.__dict__, "seed": 1}), tmp_path)
    assert len(list(tmp_path.iterdir())) == 4  # another seed: other drawings, other files


def test_the_card_says_how_the_model_reads_people(smoke_run: tuple[dict, Path]) -> None:
    card, _ = smoke_run
    reader = card["reader"]
    assert 0.2 <= reader["temperature"] <= 5
    assert 0 < reader["not_a_digit_threshold"] <= 1 and 0 < reader["unsure_threshold"] < 1
    # Picked on validation to turn away about the budgeted share of validation digits.
    assert reader["val_digits_turned_away"] <= 3 * (SMOKE.rejected_share + SMOKE.unsure_share)
    assert reader["test_ece"] < reader["test_ece_before_temperature"]
    for key in ("test_mouse_style_accuracy", "test_nondigits_caught", "test_accuracy_through_reader"):
        assert 0.5 < reader[key] <= 1, key
    assert set(card["seconds"]) == {"data", "training", "export_and_test"}
