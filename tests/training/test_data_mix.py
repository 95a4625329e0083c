"""The data mix: a seeded validation split held out of every source, each source's share of a
batch, digits run together taught as "unsure", and training's drawings made once, then read from
the cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from digit_knower.data.mnist import Mnist
from digit_knower.reader.classes import NOT_A_DIGIT
from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import (
    ANY_DIGIT,
    RealHands,
    batches,
    make_batch,
    mix,
    nondigit_labels,
    prepare_data,
    split_indices,
    targets,
)
from digit_knower.training.drawings import nondigits, pen_paths


def test_the_validation_split_is_held_out_of_training() -> None:
    train_part, val_part = split_indices(100, TrainConfig(val_size=20))
    assert len(val_part) == 20 and len(train_part) == 80
    assert not set(train_part.tolist()) & set(val_part.tolist())
    assert sorted(train_part.tolist() + val_part.tolist()) == list(range(100))
    again, _ = split_indices(100, TrainConfig(val_size=20))
    assert torch.equal(again, train_part)  # seeded: the same split every run


def test_each_batch_mixes_every_source_in_its_share(
    mnist: Mnist, hands: RealHands, cache_dir: Path, tiny: TrainConfig
) -> None:
    data = prepare_data(mnist, tiny, cache_dir, hands)
    plan = batches(data, torch.Generator().manual_seed(0), tiny)
    assert sorted(torch.cat([b["mnist"] for b in plan]).tolist()) == list(
        range(tiny.train_limit)
    )  # each once
    first = plan[0]
    for name, share in (
        ("redrawn", tiny.redrawn_share),
        ("nondigits", tiny.nondigit_share),
        ("pen", tiny.pen_share),
        ("omniglot", tiny.omniglot_share),
    ):
        assert len(first[name]) == round(tiny.batch_size * share), name
    x, y = make_batch(data, first, torch.Generator().manual_seed(0), tiny)
    assert x.shape == (tiny.batch_size, 1, 28, 28) and x.min() >= 0 and x.max() <= 1
    from_pen = y[-len(first["omniglot"]) - len(first["pen"]) : -len(first["omniglot"])]
    assert ((from_pen >= 0) & (from_pen <= 9)).all()  # pen digits are digits ...
    assert (y[-len(first["omniglot"]) :] == NOT_A_DIGIT).all()  # ... and Omniglot's letters are not


def test_a_recipe_without_real_hands_mixes_only_mnist_and_its_drawings() -> None:
    assert mix(100, TrainConfig(pen_share=0, omniglot_share=0)).keys() == {"mnist", "redrawn", "nondigits"}
    assert sum(mix(256, TrainConfig()).values()) == 256


def test_a_recipe_that_reads_real_hands_needs_them(mnist: Mnist, cache_dir: Path, tiny: TrainConfig) -> None:
    with pytest.raises(ValueError, match="pen digits and Omniglot"):
        prepare_data(mnist, tiny, cache_dir)


def test_digits_run_together_are_taught_as_unsure_not_as_no_digit() -> None:
    kinds = np.arange(2 * len(nondigits.KINDS)) % len(nondigits.KINDS)
    labels = nondigit_labels(kinds)
    together = kinds == nondigits.KINDS.index("run_together")
    assert (labels[torch.from_numpy(together)] == ANY_DIGIT).all()
    assert (labels[torch.from_numpy(~together)] == NOT_A_DIGIT).all()
    spread = targets(torch.tensor([ANY_DIGIT, 3, NOT_A_DIGIT]), smoothing=0.0)
    assert torch.allclose(spread[0, :10], torch.full((10,), 0.1)) and spread[0, NOT_A_DIGIT] == 0
    assert spread[1, 3] == 1 and spread[2, NOT_A_DIGIT] == 1
    assert torch.allclose(targets(torch.tensor([3]), smoothing=0.1).sum(), torch.tensor(1.0))


def test_the_pen_digits_validation_rows_and_omniglot_s_validation_split_are_validation(
    mnist: Mnist, hands: RealHands, cache_dir: Path, tiny: TrainConfig
) -> None:
    data = prepare_data(mnist, tiny, cache_dir, hands)
    val_rows = pen_paths.validation_rows(len(hands.pen.labels))
    train_rows = pen_paths.training_rows(len(hands.pen.labels))[: tiny.train_limit]
    expected = torch.from_numpy(np.repeat(hands.pen.labels[train_rows].astype(np.int64), tiny.pen_redraws))
    assert torch.equal(data.train["pen"].labels, expected)
    assert torch.equal(data.val["pen"].labels, torch.from_numpy(hands.pen.labels[val_rows].astype(np.int64)))
    assert len(data.train["omniglot"].labels) == tiny.train_limit
    assert len(data.val["omniglot"].labels) == len(hands.omniglot.valid)


def test_redrawings_of_validation_digits_stay_in_validation(
    mnist: Mnist, hands: RealHands, cache_dir: Path, tiny: TrainConfig
) -> None:
    data = prepare_data(mnist, tiny, cache_dir, hands)
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
        **{
            **tiny.__dict__,
            **{"train_limit": 100, "val_size": 50, "nondigits": 40, "val_nondigits": 20},
            **{"pen_share": 0.0, "omniglot_share": 0.0},
        }
    )
    first = prepare_data(mnist, cfg, tmp_path)
    files = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert len(files) == 2  # the training side and the validation side
    again = prepare_data(mnist, cfg, tmp_path)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    assert torch.equal(first.train["redrawn"].images, again.train["redrawn"].images)
    prepare_data(mnist, TrainConfig(**{**cfg.__dict__, "seed": 1}), tmp_path)
    assert len(list(tmp_path.iterdir())) == 4  # another seed: other drawings, other files
