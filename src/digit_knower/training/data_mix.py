"""The data mix: what training reads, held in memory, and each source's share of a batch.

Each mini-batch mixes up to five sources, all in memory as uint8 tensors: MNIST training digits as
the reader serves them, through its preprocessing (augmented on the fly: random stroke thickness,
then a random affine warp), the same digits redrawn as people draw them, drawings that are no
digit, the eleventh class (the last two made once and cached by `drawings.training_set`), and real
people's hands (`drawings.handwriting`): pen-written digits, and Omniglot's mouse-drawn letters as
non-digits. A validation split is held out of every source for every choice made after training
(`calibrate`): MNIST's by a seeded split, the pen digits' by their fixed validation rows, and
Omniglot's is its own validation split.

Drawings of digits run together (`nondigits.run_together`) are digits, but no single one: their
label is ANY_DIGIT, a target spread evenly over the ten digits, which the reader reads as "unsure".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import torch
import torch.nn.functional as F

from digit_knower.data.mnist import Mnist
from digit_knower.data.omniglot import Omniglot
from digit_knower.data.pendigits import PenDigits
from digit_knower.reader.classes import DIGITS, NOT_A_DIGIT
from digit_knower.training.augment import random_affine, vary_stroke
from digit_knower.training.config import TrainConfig
from digit_knower.training.drawings import handwriting, nondigits, pen_paths, training_set
from digit_knower.training.model import to_float

# The label of a drawing of several digits run together: a target spread over the ten digits.
ANY_DIGIT: Final = -1
# Drawings made of each validation row of the pen digits (as many as validation needs to be steady).
PEN_VAL_REDRAWS: Final = 1


@dataclass(frozen=True)
class Part:
    """One source of inputs: uint8 (N, 28, 28) and labels (N,), NOT_A_DIGIT meaning "not a digit"."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True)
class TrainingData:
    """What training reads ("mnist", "redrawn", "nondigits", and "pen" and "omniglot" when the
    recipe gives them a share) and the validation split of each."""

    train: dict[str, Part]
    val: dict[str, Part]


@dataclass(frozen=True)
class RealHands:
    """The real handwriting sets training reads beside MNIST (`drawings.handwriting`)."""

    pen: PenDigits
    omniglot: Omniglot


def uses_real_hands(cfg: TrainConfig) -> bool:
    return cfg.pen_share > 0 or cfg.omniglot_share > 0


def split_indices(count: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices into the MNIST training set: a seeded random split."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(cfg.seed))
    val, train = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.train_limit is not None:
        train = train[: cfg.train_limit]
    return train, val


def prepare_data(
    mnist: Mnist, cfg: TrainConfig, cache_dir: Path, hands: RealHands | None = None
) -> TrainingData:
    """MNIST's training split (preprocessed), its redrawings and the non-digits, each split the same
    way, and the real hands when the recipe uses them (`hands` is then required).

    A validation digit's redrawings stay in validation, and the non-digits made of run-together
    digits take them from their own side of the split.
    """
    if uses_real_hands(cfg) and hands is None:
        raise ValueError("this recipe trains on the pen digits and Omniglot: pass them as `hands`")
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
        return {
            "mnist": Part(torch.from_numpy(drawings.preprocessed), labels[index]),
            "redrawn": Part(redrawn, labels[index].repeat_interleave(cfg.redraws)),
            "nondigits": Part(torch.from_numpy(drawings.nondigits), nondigit_labels(drawings.nondigit_kinds)),
        }

    data = TrainingData(train=parts("train", train), val=parts("val", val))
    if hands is not None and uses_real_hands(cfg):
        for side, made_hands in real_hands(hands, cfg, cache_dir).items():
            getattr(data, side).update(made_hands)
    return data


def nondigit_labels(kinds: np.ndarray) -> torch.Tensor:
    """NOT_A_DIGIT for every non-digit, but ANY_DIGIT for digits run together."""
    run_together = kinds == nondigits.KINDS.index("run_together")
    return torch.from_numpy(np.where(run_together, ANY_DIGIT, NOT_A_DIGIT).astype(np.int64))


def real_hands(hands: RealHands, cfg: TrainConfig, cache_dir: Path) -> dict[str, dict[str, Part]]:
    """The pen digits (training rows; validation rows) and Omniglot (training; validation split),
    as model inputs for each side (the training side cut to `train_limit` when one is set)."""
    count = len(hands.pen.labels)
    rows = {"train": pen_paths.training_rows(count), "val": pen_paths.validation_rows(count)}
    letters = {"train": hands.omniglot.train, "val": hands.omniglot.valid}
    if cfg.train_limit is not None:  # tests train on a subset: of these too
        rows["train"] = rows["train"][: cfg.train_limit]
        letters["train"] = letters["train"].head(cfg.train_limit)
    out = {}
    for side, offset in (("train", 0), ("val", 1000)):
        made = handwriting.load_or_make(
            hands.pen,
            rows[side],
            letters[side],
            cache_dir,
            per_row=cfg.pen_redraws if side == "train" else PEN_VAL_REDRAWS,
            seed=cfg.seed + offset,
            workers=cfg.threads,
        )
        omniglot = torch.from_numpy(made.omniglot)
        out[side] = {
            "pen": Part(torch.from_numpy(made.pen_digits), torch.from_numpy(made.pen_labels)),
            "omniglot": Part(omniglot, torch.full((len(omniglot),), NOT_A_DIGIT)),
        }
    return out


def targets(labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    """The training targets (N, 11) of these labels: one class each, smoothed, or for ANY_DIGIT an
    even spread over the ten digits (nothing on "not a digit")."""
    any_digit = labels == ANY_DIGIT
    out = F.one_hot(labels.clamp(min=0), NOT_A_DIGIT + 1).float()
    out[any_digit] = 0.0
    out[any_digit, :DIGITS] = 1.0 / DIGITS
    return out * (1 - smoothing) + smoothing / out.shape[1]


def mix(count: int, cfg: TrainConfig) -> dict[str, int]:
    """How many of `count` inputs each source gives: redrawn digits, non-digits, pen digits and
    Omniglot letters in their shares (a source without a share is left out), MNIST digits for the rest."""
    shares = {
        "redrawn": cfg.redrawn_share,
        "nondigits": cfg.nondigit_share,
        "pen": cfg.pen_share,
        "omniglot": cfg.omniglot_share,
    }
    others = {name: round(count * share) for name, share in shares.items() if share > 0}
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
    """`count` random inputs from the sources, in their shares: a batch of the usual mix
    (for fine-tuning, which takes steps rather than epochs)."""
    return {
        name: torch.randint(len(data.train[name].labels), (n,), generator=g)
        for name, n in mix(count, cfg).items()
    }


def make_batch(
    data: TrainingData, picks: dict[str, torch.Tensor], g: torch.Generator, cfg: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The float inputs and labels of one batch. MNIST digits get the full augmentation; redrawn
    digits, non-digits and real hands (already in people's strokes) only the affine warp."""
    inputs, labels = [], []
    for name, index in picks.items():
        part = data.train[name]
        x = to_float(part.images[index])
        inputs.append(vary_stroke(x, g, cfg.thicken_p, cfg.thin_p) if name == "mnist" else x)
        labels.append(part.labels[index])
    # One warp for the whole batch: a single grid_sample call, cheaper than one per source.
    return random_affine(torch.cat(inputs), g, cfg), torch.cat(labels)
