"""The data mix: a seeded validation split held out of every source, each source's share of a
batch, and training's drawings made once, then read from the cache."""

from __future__ import annotations

from pathlib import Path

import torch

from digit_knower.data.mnist import Mnist
from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import batches, make_batch, prepare_data, split_indices


def test_the_validation_split_is_held_out_of_training() -> None:
    train_part, val_part = split_indices(100, TrainConfig(val_size=20))
    assert len(val_part) == 20 and len(train_part) == 80
    assert not set(train_part.tolist()) & set(val_part.tolist())
    assert sorted(train_part.tolist() + val_part.tolist()) == list(range(100))
    again, _ = split_indices(100, TrainConfig(val_size=20))
    assert torch.equal(again, train_part)  # seeded: the same split every run


def test_each_batch_mixes_mnist_redrawn_digits_and_non_digits_in_their_shares(
    mnist: Mnist, cache_dir: Path, tiny: TrainConfig
) -> None:
    data = prepare_data(mnist, tiny, cache_dir)
    plan = batches(data, torch.Generator().manual_seed(0), tiny)
    assert sorted(torch.cat([b["mnist"] for b in plan]).tolist()) == list(
        range(tiny.train_limit)
    )  # each once
    first = plan[0]
    assert len(first["redrawn"]) == round(tiny.batch_size * tiny.redrawn_share)
    assert len(first["nondigits"]) == round(tiny.batch_size * tiny.nondigit_share)
    x, y = make_batch(data, first, torch.Generator().manual_seed(0), tiny)
    assert x.shape == (tiny.batch_size, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    assert (y == 10).sum() == len(first["nondigits"])  # the eleventh class: not a digit


def test_redrawings_of_validation_digits_stay_in_validation(
    mnist: Mnist, cache_dir: Path, tiny: TrainConfig
) -> None:
    data = prepare_data(mnist, tiny, cache_dir)
    assert len(data.train["redrawn"].labels) == tiny.train_limit * tiny.redraws
    assert len(data.val["redrawn"].labels) == tiny.val_size * tiny.redraws
    assert torch.equal(data.val["redrawn"].labels[:: tiny.redraws], data.val["mnist"].labels)
    assert (len(data.train["nondigits"].labels), len(data.val["nondigits"].labels)) == (300, 60)
    # Drawn from their own seed: only a rare fixed figure (a heart has no random shape) comes out
    # the same as one in training.
    seen_in_training = set(map(bytes, data.train["nondigits"].images.numpy()))
    same = [image for image in data.val["nondigits"].images.numpy() if bytes(image) in seen_in_training]
    assert len(same) <= 0.05 * len(data.val["nondigits"].labels)


def test_drawings_are_made_once_then_read_from_the_cache(
    mnist: Mnist, tmp_path: Path, tiny: TrainConfig
) -> None:
    cfg = TrainConfig(
        **{**tiny.__dict__, "train_limit": 100, "val_size": 50, "nondigits": 40, "val_nondigits": 20}
    )
    first = prepare_data(mnist, cfg, tmp_path)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert len(files) == 2  # the training side and the validation side
    again = prepare_data(mnist, cfg, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    assert torch.equal(first.train["redrawn"].images, again.train["redrawn"].images)
    prepare_data(mnist, TrainConfig(**{**cfg.__dict__, "seed": 1}), tmp_path)
    assert len(list(tmp_path.iterdir())) == 4  # another seed: other drawings, other files
