"""The data mix: what training reads, held in memory, and each source's share of a batch.

Each mini-batch mixes three sources, all in memory as uint8 tensors: MNIST training digits as the
reader serves them, through its preprocessing (augmented on the fly: random stroke thickness, then
a random affine warp), the same digits redrawn as people draw them, and drawings that are no digit,
the eleventh class (the last two made once and cached by `drawings.training_set`). A validation
split is held out of all three for every choice made after training (`calibrate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from digit_knower.data.mnist import Mnist
from digit_knower.reader.classes import NOT_A_DIGIT
from digit_knower.training.augment import random_affine, vary_stroke
from digit_knower.training.config import TrainConfig
from digit_knower.training.drawings import training_set
from digit_knower.training.model import to_float


@dataclass(frozen=True)
class Part:
    """One source of inputs: uint8 (N, 28, 28) and labels (N,), NOT_A_DIGIT meaning "not a digit"."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True)
class TrainingData:
    """What training reads ("mnist", "redrawn", "nondigits") and the validation split of each."""

    train: dict[str, Part]
    val: dict[str, Part]


def split_indices(count: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices into the MNIST training set: a seeded random split."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(cfg.seed))
    val, train = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.train_limit is not None:
        train = train[: cfg.train_limit]
    return train, val


def prepare_data(mnist: Mnist, cfg: TrainConfig, cache_dir: Path) -> TrainingData:
    """MNIST's training split (preprocessed), its redrawings and the non-digits, each split the same way.

    A validation digit's redrawings stay in validation, and the non-digits made of run-together
    digits take them from their own side of the split.
    """
    images = mnist.train.images
    labels = torch.from_numpy(mnist.train.labels.astype(np.int64))
    train, val = split_indices(len(images), cfg)
    made = {
        side: training_set.load_or_make(
            images[index.numpy()],
            donors=images[index.numpy()],
            cache_dir=cache_dir,
            redraws=cfg.redraws,
            count=count,
            seed=cfg.seed + offset,
            workers=cfg.threads,
        )
        for side, index, count, offset in (
            ("train", train, cfg.nondigits, 0),
            ("val", val, cfg.val_nondigits, 1000),
        )
    }

    def parts(side: str, index: torch.Tensor) -> dict[str, Part]:
        drawings = made[side]
        redrawn = torch.from_numpy(drawings.redrawn.reshape(-1, 28, 28))
        others = torch.from_numpy(drawings.nondigits)
        return {
            "mnist": Part(torch.from_numpy(drawings.preprocessed), labels[index]),
            "redrawn": Part(redrawn, labels[index].repeat_interleave(cfg.redraws)),
            "nondigits": Part(others, torch.full((len(others),), NOT_A_DIGIT)),
        }

    return TrainingData(train=parts("train", train), val=parts("val", val))


def mix(count: int, cfg: TrainConfig) -> dict[str, int]:
    """How many of `count` inputs each source gives: redrawn digits and non-digits in their
    shares, MNIST digits for the rest."""
    others = {"redrawn": round(count * cfg.redrawn_share), "nondigits": round(count * cfg.nondigit_share)}
    return {"mnist": count - sum(others.values()), **others}


def batches(data: TrainingData, g: torch.Generator, cfg: TrainConfig) -> list[dict[str, torch.Tensor]]:
    """One epoch's plan: every MNIST training digit once, each batch topped up with random redrawn
    digits and non-digits in their shares. Each batch is the indices it takes from each source."""
    per_batch = mix(cfg.batch_size, cfg)
    digits_per_batch = per_batch.pop("mnist")
    order = torch.randperm(len(data.train["mnist"].labels), generator=g)
    plan = []
    for start in range(0, len(order), digits_per_batch):
        picks = {"mnist": order[start : start + digits_per_batch]}
        for name, count in per_batch.items():
            picks[name] = torch.randint(len(data.train[name].labels), (count,), generator=g)
        plan.append(picks)
    return plan


def random_picks(
    data: TrainingData, count: int, g: torch.Generator, cfg: TrainConfig
) -> dict[str, torch.Tensor]:
    """`count` random inputs from the three sources, in their shares: a batch of the usual mix
    (for fine-tuning, which takes steps rather than epochs)."""
    return {
        name: torch.randint(len(data.train[name].labels), (n,), generator=g)
        for name, n in mix(count, cfg).items()
    }


def make_batch(
    data: TrainingData, picks: dict[str, torch.Tensor], g: torch.Generator, cfg: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The float inputs and labels of one batch. MNIST digits get the full augmentation; redrawn
    digits and non-digits (already in people's strokes) only the affine warp."""
    inputs, labels = [], []
    for name, index in picks.items():
        part = data.train[name]
        x = to_float(part.images[index])
        inputs.append(vary_stroke(x, g, cfg.thicken_p, cfg.thin_p) if name == "mnist" else x)
        labels.append(part.labels[index])
    # One warp for the whole batch: a single grid_sample call, cheaper than one per source.
    return random_affine(torch.cat(inputs), g, cfg), torch.cat(labels)
