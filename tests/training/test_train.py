"""Training: a smoke run of `digit-knower train` on a few thousand digits (its outputs, its card,
reproducibility) and its command's errors."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from digit_knower.data.mnist import Mnist
from digit_knower.data.pendigits import ROWS_SHA256
from digit_knower.settings import get_settings
from digit_knower.training import export, model_card, train
from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import RealHands, prepare_data
from digit_knower.training.export import TrainingFailed

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


def test_the_loss_falls_and_accuracy_is_far_above_chance(
    smoke_run: tuple[dict, Path], smoke: TrainConfig
) -> None:
    card, _ = smoke_run
    history = card["history"]
    assert len(history) == smoke.epochs
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


def test_the_card_is_filled_in(smoke_run: tuple[dict, Path], smoke: TrainConfig) -> None:
    card, out = smoke_run
    assert json.loads((out / "model_card.json").read_text()) == card
    assert card.keys() >= CARD_KEYS
    assert card["version"].startswith("dk-")
    assert card["parameters"] > 10_000
    assert card["seed"] == smoke.seed
    assert card["hyperparameters"]["epochs"] == smoke.epochs
    assert card["data_sha256"]["t10k-images-idx3-ubyte"].startswith("0fa7898d")
    assert {"torch", "onnxruntime", "numpy"} <= card["library_versions"].keys()
    assert card["train_seconds"] > 0
    matrix = np.array(card["confusion_matrix"])
    assert matrix.shape == (10, 10)
    assert matrix.sum() == 10_000
    assert card["test_accuracy"] == pytest.approx(np.trace(matrix) / 10_000)
    assert len(card["per_class_accuracy"]) == 10
    assert all(0 <= a <= 1 for a in card["per_class_accuracy"])


def test_the_card_says_how_the_model_reads_people(smoke_run: tuple[dict, Path], smoke: TrainConfig) -> None:
    card, _ = smoke_run
    reader = card["reader"]
    assert 0.2 <= reader["temperature"] <= 5
    assert 0 < reader["not_a_digit_threshold"] <= 1 and 0 < reader["unsure_threshold"] < 1
    # Picked on validation to turn away about the budgeted share of validation digits.
    assert reader["val_digits_turned_away"] <= 3 * (smoke.rejected_share + smoke.unsure_share)
    assert reader["test_ece"] < reader["test_ece_before_temperature"]
    for key in ("test_mouse_style_accuracy", "test_nondigits_caught", "test_accuracy_through_reader"):
        assert 0.5 < reader[key] <= 1, key
    assert set(card["seconds"]) == {"data", "training", "export_and_test"}


def test_the_same_seed_gives_the_same_model_and_another_seed_does_not(
    mnist: Mnist, hands: RealHands, cache_dir: Path, tiny: TrainConfig
) -> None:
    def weights(cfg: TrainConfig) -> torch.Tensor:
        model, *_ = train.train_model(prepare_data(mnist, cfg, cache_dir, hands), cfg)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    first = weights(tiny)
    assert torch.equal(first, weights(tiny))
    assert not torch.equal(first, weights(TrainConfig(**{**tiny.__dict__, "seed": 1})))


def test_the_presets_set_the_epochs_and_epochs_given_win() -> None:
    def epochs(**given: object) -> int:
        options = {"epochs": None, "batch_size": None, "seed": 0, "threads": None, **given}
        return train.config_from_args(argparse.Namespace(**options)).epochs

    assert epochs(preset="full") == TrainConfig().epochs == epochs()
    assert epochs(preset="quick") == 1
    assert epochs(preset="quick", epochs=3) == 3


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
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny: TrainConfig
) -> None:
    (tmp_path / "digit_cnn.onnx").write_bytes(b"the model being served")

    def disagree(*args: object) -> float:
        raise TrainingFailed("the ONNX export disagrees with torch")

    monkeypatch.setattr(export, "check_onnx_matches_torch", disagree)
    with pytest.raises(TrainingFailed):
        train.run(tiny, data_dir, tmp_path, cache_dir=tmp_path / "cache")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "digit_cnn.onnx"]
    assert (tmp_path / "digit_cnn.onnx").read_bytes() == b"the model being served"


def test_the_card_records_each_source_with_its_checksum_share_and_figures(
    smoke_run: tuple[dict, Path], smoke: TrainConfig, hands: RealHands
) -> None:
    card, _ = smoke_run
    sources = card["sources"]
    assert sources.keys() == {"mnist", "redrawn", "nondigits", "pen", "omniglot"}
    assert sum(source["share"] for source in sources.values()) == pytest.approx(1.0, abs=0.01)
    assert sources["pen"]["share"] == pytest.approx(smoke.pen_share, abs=0.01)
    assert sources["pen"]["sha256"] == hands.pen.sha256 == ROWS_SHA256
    assert sources["omniglot"]["sha256"] == hands.omniglot.sha256
    assert sources["mnist"]["sha256"] == card["data_sha256"]
    reader = card["reader"]
    for key in ("val_pen_curves_read_right", "val_pen_polylines_read_right", "val_omniglot_turned_away"):
        assert 0 <= reader[key] <= 1, key
    assert sources["pen"]["figures"]["val_curves_read_right"] == reader["val_pen_curves_read_right"]
    assert sources["omniglot"]["figures"]["val_turned_away"] == reader["val_omniglot_turned_away"]
