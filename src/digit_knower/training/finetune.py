"""Fine-tune a parent model on its training mix plus the users' feedback, and export it: the one
place where the learning loop trains, and the only module of it that imports torch and training.

Starting from the parent's torch weights (`digit_cnn.pt` beside its ONNX file), a few hundred
steps suffice: the network already reads digits, and only has to learn the users' style without
forgetting the rest. Every batch is the parent's own training mix (MNIST digits, the same digits
redrawn as people draw them, non-digits, and the real hands' pen digits and Omniglot letters when
the parent read them, from `data_mix.prepare_data`: the parent's validation split left out, the
drawings read from the cache) plus feedback rows, which make up a fixed share
of the batch whatever their number: that share is how much the feedback weighs
(`bench/feedback_weight.py` measures the choice). Feedback rows are augmented as training's MNIST
digits are, so each repeat is a slightly different drawing. Then the temperature and the reader's
thresholds are fitted anew on the parent's validation split, as training does.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in train.py: steadier on a shared machine

import torch
from tqdm import tqdm

from digit_knower.data.mnist import Mnist
from digit_knower.lifecycle.feedback import FeedbackSet
from digit_knower.reader.classes import CLASSES
from digit_knower.reader.predictor import WEIGHTS_FILE
from digit_knower.training import model_card
from digit_knower.training.augment import augment
from digit_knower.training.calibrate import calibrate_reader
from digit_knower.training.config import DEFAULT_THREADS, TrainConfig
from digit_knower.training.data_mix import (
    RealHands,
    TrainingData,
    make_batch,
    prepare_data,
    random_picks,
    uses_real_hands,
)
from digit_knower.training.export import export_with_card
from digit_knower.training.model import DigitCNN, to_float
from digit_knower.training.train import load_real_hands, step, validation_figures, validation_logits


@dataclass(frozen=True)
class FineTuneConfig:
    # Chosen with bench/feedback_weight.py, on the parent's MNIST validation split, the feedback
    # holdout and fresh drawings of a simulated user, never on the test set: shares of 3-10% of a
    # batch taught the user's style fully (100% on the holdout and fresh drawings, from 91%), and
    # 25-50% cost 0.1-0.2 point of MNIST validation accuracy. 10% is the most weight that cost
    # none; a peak learning rate of 3e-4 did as well as 1e-3 or better.
    steps: int = 300
    batch_size: int = 128
    feedback_share: float = 0.1  # of every batch; the rest is MNIST
    max_lr: float = 3e-4  # one cycle: warm up, then anneal to almost nothing
    seed: int = 0
    threads: int = DEFAULT_THREADS


class ParentUnusable(Exception):
    """The parent model cannot be fine-tuned by this code (no torch weights, or another network)."""


@dataclass(frozen=True)
class FineTuned:
    """A candidate written into a folder: ONNX file, torch weights and model card."""

    card: dict[str, Any]  # the fields every model card has, whoever trained the model

    @property
    def version(self) -> str:
        return self.card["version"]


# Cards written before training read real hands lack these shares: those parents never read them.
_SHARES_ADDED_LATER = {"pen_share": 0.0, "omniglot_share": 0.0}


def parent_config(parent_card: dict[str, Any]) -> TrainConfig:
    """The parent's training recipe (augmentation, dropout, validation split, data mix), from its card."""
    known = {f.name for f in fields(TrainConfig)}
    recipe = _SHARES_ADDED_LATER | {
        k: v for k, v in (parent_card.get("hyperparameters") or {}).items() if k in known
    }
    if "widths" in recipe:  # JSON kept the tuple as a list
        recipe["widths"] = tuple(recipe["widths"])
    return TrainConfig(**{**recipe, "seed": parent_card.get("seed", 0), "train_limit": None})


def real_hands_for(parent_card: dict[str, Any], data_dir: Path) -> RealHands | None:
    """The pen digits and Omniglot from the data folder when the parent's recipe read them
    (verified; downloaded when missing), else None."""
    return load_real_hands(data_dir) if uses_real_hands(parent_config(parent_card)) else None


def load_parent(parent_dir: Path, recipe: TrainConfig) -> DigitCNN:
    weights = parent_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise ParentUnusable(
            f"the parent model has no torch weights ({weights}); retraining starts from them. "
            "Promote a model trained by `digit-knower train` or `retrain`."
        )
    model = DigitCNN(dropout=recipe.dropout, widths=recipe.widths, classes=CLASSES)
    try:
        model.load_state_dict(torch.load(weights, weights_only=True))
    except (RuntimeError, OSError, ValueError) as err:
        first_line = str(err).splitlines()[0]
        raise ParentUnusable(f"{weights} does not fit this code's network: {first_line}") from err
    return model


def fine_tune(
    parent_dir: Path,
    parent_card: dict[str, Any],
    mnist: Mnist,
    feedback: FeedbackSet,
    cfg: FineTuneConfig,
    out: Path,
    cache_dir: Path,
    hands: RealHands | None = None,
) -> FineTuned:
    """Fine-tune the parent; write it into `out` as ONNX (checked against torch on the test set),
    torch weights and a model card with its reader's figures.

    `hands`: the pen digits and Omniglot, when the parent's recipe read them; without them the
    batches leave those sources out (their shares go to MNIST).
    """
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    recipe = parent_config(parent_card)
    if hands is None:
        recipe = replace(recipe, pen_share=0.0, omniglot_share=0.0)
    model = load_parent(parent_dir, recipe)
    data = prepare_data(mnist, recipe, cache_dir, hands)
    x_feedback, y_feedback = torch.from_numpy(feedback.images.copy()), torch.from_numpy(feedback.labels)

    started = time.perf_counter()
    model.temperature.fill_(1.0)  # trained as the parent was; calibrated again below
    history = _steps(model, data, (x_feedback, y_feedback), recipe, cfg)
    val_logits = validation_logits(model, data)
    reader = calibrate_reader(model, data, recipe, val_logits)
    train_seconds = time.perf_counter() - started

    card = export_with_card(
        model,
        recipe,
        mnist,
        out,
        seed=cfg.seed,
        threads=cfg.threads,
        history=history,
        val_accuracy=validation_figures(val_logits, data)["val_accuracy"],
        reader=reader,
        cache_dir=cache_dir,
    )
    card["fine_tune"] = asdict(cfg)
    card["train_seconds"] = round(train_seconds, 1)
    # A complete, loadable model folder from here on; the caller adds to the card.
    model_card.write(card, out)
    return FineTuned(card)


def _steps(
    model: DigitCNN,
    data: TrainingData,
    feedback: tuple[torch.Tensor, torch.Tensor],
    recipe: TrainConfig,
    cfg: FineTuneConfig,
) -> list[dict[str, float]]:
    """The training steps, with a progress bar; returns the loss and accuracy every 50 steps."""
    g = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.max_lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.max_lr, total_steps=cfg.steps, pct_start=0.2
    )
    from_feedback = round(cfg.batch_size * cfg.feedback_share) if len(feedback[1]) else 0
    history: list[dict[str, float]] = []
    loss_sum, correct, seen = 0.0, 0, 0
    model.train()
    bar = tqdm(range(1, cfg.steps + 1), desc="fine-tuning", unit="step", dynamic_ncols=True)
    for number in bar:
        x_mix, y_mix = make_batch(
            data, random_picks(data, cfg.batch_size - from_feedback, g, recipe), g, recipe
        )
        f = torch.randint(max(len(feedback[1]), 1), (from_feedback,), generator=g)
        x = torch.cat([x_mix, augment(to_float(feedback[0][f]), g, recipe)])
        y = torch.cat([y_mix, feedback[1][f]])
        loss, right = step(model, optimizer, schedule, x, y, recipe)
        loss_sum += loss * len(y)
        correct += right
        seen += len(y)
        bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.2%}", refresh=False)
        if number % 50 == 0 or number == cfg.steps:
            history.append({"step": number, "loss": loss_sum / seen, "train_accuracy": correct / seen})
            loss_sum, correct, seen = 0.0, 0, 0
    return history
