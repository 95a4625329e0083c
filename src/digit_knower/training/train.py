"""`digit-knower train`: the training loop, and the whole run from MNIST to a model folder.

A run reads the data mix (`data_mix`: MNIST digits, the same digits redrawn as people draw them,
and drawings that are no digit, with a validation split held out of all three), trains the CNN
(`model`) on augmented batches (`augment`) for the configured epochs (`config`), fits the
temperature and the reader's thresholds on the validation split (`calibrate`), then exports the
ONNX file, checks it against torch and scores the test sets once, at the very end, only to report
them (`export`, `model_card`).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

# On a shared machine, spinning OpenMP threads wait for a thread that another process has pushed
# off its core, and an epoch took 3-10x longer; passive waiting measured steadier. It is only read
# when torch starts, hence before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from digit_knower.data.download import DataError
from digit_knower.data.mnist import Mnist, load_mnist
from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import load_pendigits
from digit_knower.reader.classes import CLASSES, DIGITS, NOT_A_DIGIT
from digit_knower.settings import get_settings
from digit_knower.training import model_card
from digit_knower.training.calibrate import calibrate_reader
from digit_knower.training.config import DEFAULT_THREADS, TrainConfig
from digit_knower.training.data_mix import (
    ANY_DIGIT,
    RealHands,
    TrainingData,
    batches,
    make_batch,
    mix,
    prepare_data,
    targets,
    uses_real_hands,
)
from digit_knower.training.export import TrainingFailed, export_with_card
from digit_knower.training.model import DigitCNN, predict_logits
from digit_knower.training.train_command import PRESETS


def train_model(
    data: TrainingData, cfg: TrainConfig
) -> tuple[DigitCNN, list[dict[str, float]], dict[str, torch.Tensor]]:
    """Train on the training split; return the model after the last epoch, the per-epoch history
    and the last epoch's `validation_logits` (every redrawing: calibration reads them next)."""
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    model = DigitCNN(dropout=cfg.dropout, widths=cfg.widths, classes=CLASSES)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.max_lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(data.train["mnist"].labels) / mix(cfg.batch_size, cfg)["mnist"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.max_lr, total_steps=cfg.epochs * steps_per_epoch
    )
    history: list[dict[str, float]] = []
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        loss, train_acc = train_epoch(model, optimizer, schedule, data, g, cfg, epoch)
        logits = validation_logits(model, data, every_redrawing=epoch == cfg.epochs)
        figures = validation_figures(logits, data)
        seconds = time.perf_counter() - started
        history.append(
            {"epoch": epoch, "loss": loss, "train_accuracy": train_acc, **figures, "seconds": seconds}
        )
        tqdm.write(epoch_line(epoch, cfg, loss, train_acc, figures, seconds))
    return model, history, logits


def epoch_line(
    epoch: int, cfg: TrainConfig, loss: float, train_acc: float, figures: dict[str, float], seconds: float
) -> str:
    """One epoch's figures, as training prints them."""
    real = (
        f"pen {figures['val_pen_accuracy']:.2%}  Omniglot found {figures['val_omniglot_found']:.2%}  "
        if "val_pen_accuracy" in figures
        else ""
    )
    return (
        f"epoch {epoch:>2}/{cfg.epochs}  loss {loss:.4f}  train acc {train_acc:.2%}  "
        f"val acc {figures['val_accuracy']:.2%}  redrawn {figures['val_redrawn_accuracy']:.2%}  "
        f"non-digits found {figures['val_nondigits_found']:.2%}  {real}({seconds:.0f} s)"
    )


def train_epoch(
    model: DigitCNN,
    optimizer: Optimizer,
    schedule: LRScheduler,
    data: TrainingData,
    g: torch.Generator,
    cfg: TrainConfig,
    epoch: int,
) -> tuple[float, float]:
    """One pass over the shuffled MNIST training digits, with their share of the other sources;
    returns the mean loss and accuracy on the augmented inputs."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    plan = batches(data, g, cfg)
    bar = tqdm(plan, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False, dynamic_ncols=True)
    for picks in bar:
        x, y = make_batch(data, picks, g, cfg)
        loss, right = step(model, optimizer, schedule, x, y, cfg)
        total_loss += loss * len(y)
        correct += right
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.2%}", refresh=False)
    return total_loss / seen, correct / seen


def step(
    model: DigitCNN,
    optimizer: Optimizer,
    schedule: LRScheduler,
    x: torch.Tensor,
    y: torch.Tensor,
    cfg: TrainConfig,
) -> tuple[float, int]:
    """One optimisation step on a batch (training and retraining's fine-tuning both take it);
    returns the batch's mean loss and how many it got right."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16 and bf16_available()):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), targets(y, cfg.label_smoothing))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    guess = logits.argmax(1)
    right = (guess == y) | ((y == ANY_DIGIT) & (guess < DIGITS))
    return loss.item(), int(right.sum().item())


def bf16_available() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (else autocast would only slow it down)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def validation_logits(
    model: DigitCNN, data: TrainingData, every_redrawing: bool = True
) -> dict[str, torch.Tensor]:
    """The model's logits on the validation split, source by source, at its current temperature.

    With `every_redrawing` False, only the first redrawing of each validation digit is read: enough
    to follow training from epoch to epoch, at less cost. Calibration needs them all.
    """
    redrawn = data.val["redrawn"].images
    logits = {
        "mnist": predict_logits(model, data.val["mnist"].images),
        "redrawn": predict_logits(model, redrawn if every_redrawing else redrawn[:: redraws_of(data)]),
    }
    for name in ("nondigits", "pen", "omniglot"):
        if name in data.val:
            logits[name] = predict_logits(model, data.val[name].images)
    return logits


def redraws_of(data: TrainingData) -> int:
    """How many redrawings each validation digit has (they follow each other, digit by digit)."""
    return len(data.val["redrawn"].labels) // len(data.val["mnist"].labels)


def validation_figures(logits: dict[str, torch.Tensor], data: TrainingData) -> dict[str, float]:
    """Accuracy on the validation digits (MNIST, and the first redrawing of each) and the share of
    non-digits called so, from `validation_logits` (with every redrawing or only the first)."""
    # The first redrawing of each digit, whether `logits` holds every redrawing or only those.
    redrawn = logits["redrawn"][:: len(logits["redrawn"]) // len(data.val["mnist"].labels)]
    nondigits = data.val["nondigits"].labels == NOT_A_DIGIT  # not the digits run together
    figures = {
        "val_accuracy": digit_accuracy(logits["mnist"], data.val["mnist"].labels),
        "val_redrawn_accuracy": digit_accuracy(redrawn, data.val["redrawn"].labels[:: redraws_of(data)]),
        "val_nondigits_found": called_nondigit(logits["nondigits"][nondigits]),
    }
    if "pen" in logits:
        figures["val_pen_accuracy"] = digit_accuracy(logits["pen"], data.val["pen"].labels)
        figures["val_omniglot_found"] = called_nondigit(logits["omniglot"])
    return figures


def called_nondigit(logits: torch.Tensor) -> float:
    """The share whose likeliest class is "not a digit"."""
    return (logits.argmax(1) == NOT_A_DIGIT).float().mean().item()


def digit_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share whose likeliest digit (the ten digits only) is the label."""
    return (logits[:, :DIGITS].argmax(1) == labels).float().mean().item()


def run(cfg: TrainConfig, data_dir: Path, out: Path, cache_dir: Path | None = None) -> dict[str, Any]:
    """Train, calibrate, score the test sets once, export and check ONNX, write weights, card and plots."""
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    mnist = load_mnist(data_dir)
    hands = load_real_hands(data_dir) if uses_real_hands(cfg) else None
    cache_dir = Path(cache_dir) if cache_dir else get_settings().cache_dir
    data = prepare_data(mnist, cfg, cache_dir, hands)
    seconds = {"data": time.perf_counter() - started}
    model, history, val_logits = train_model(data, cfg)
    reader = calibrate_reader(model, data, cfg, val_logits)
    seconds["training"] = time.perf_counter() - started - seconds["data"]

    # Everything is written to a staging folder first and moved into `out` only once the ONNX
    # check has passed: a failed run never replaces a model that is being served.
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=out))
    try:
        card = write_outputs(model, history, reader, mnist, hands, cfg, seconds, staging, cache_dir)
        for path in staging.iterdir():
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    model_card.register_in_database(card)
    return card


def load_real_hands(data_dir: Path) -> RealHands:
    """The pen digits and Omniglot from the data folder, verified (downloaded first when missing)."""
    return RealHands(pen=load_pendigits(data_dir), omniglot=load_omniglot(data_dir))


def write_outputs(
    model: DigitCNN,
    history: list[dict[str, float]],
    reader: dict[str, Any],
    mnist: Mnist,
    hands: RealHands | None,
    cfg: TrainConfig,
    seconds: dict[str, float],
    out: Path,
    cache_dir: Path,
) -> dict[str, Any]:
    """Score the test set (once), export and check ONNX, write the weights, then the card and plots
    with the reader's figures on the test sets, and on the real hands' validation sets."""
    started = time.perf_counter()
    card = export_with_card(
        model,
        cfg,
        mnist,
        out,
        seed=cfg.seed,
        threads=cfg.threads,
        history=history,
        val_accuracy=history[-1]["val_accuracy"],
        reader=reader,
        cache_dir=cache_dir,
    )
    data_sha256 = {"mnist": card["data_sha256"]}
    if hands is not None:
        card["reader"].update(model_card.real_hands_figures(out, card, hands.pen, hands.omniglot.valid))
        data_sha256 |= {"pendigits": hands.pen.sha256, "omniglot": hands.omniglot.sha256}
    card["sources"] = model_card.sources(cfg, data_sha256, {**history[-1], **card["reader"]})
    seconds["export_and_test"] = time.perf_counter() - started
    card["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    card["train_seconds"] = card["seconds"]["training"]
    model_card.write(card, out)
    model_card.save_plots(card, out)
    return card


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The recipe `digit-knower train` runs with: the defaults, with the options given."""
    defaults = TrainConfig()
    return TrainConfig(
        epochs=args.epochs or PRESETS.get(getattr(args, "preset", "full"), defaults.epochs),
        batch_size=args.batch_size or defaults.batch_size,
        seed=args.seed,
        threads=args.threads or DEFAULT_THREADS,
    )


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower train` with its parsed options; the exit status."""
    for option in ("epochs", "batch_size", "threads"):
        value = getattr(args, option)
        if value is not None and value < 1:
            print(f"error: --{option.replace('_', '-')} must be at least 1, not {value}")
            return 2
    cfg = config_from_args(args)
    try:
        card = run(cfg, Path(args.data_dir), Path(args.out), cache_dir=getattr(args, "cache_dir", None))
    except DataError as e:
        print(f"error: {e}")
        return 2
    except TrainingFailed as e:
        print(f"error: training failed: {e}")
        return 1
    except OSError as e:  # e.g. --out is not writable, or the disk is full
        print(f"error: {e.strerror or e}: {e.filename or args.out}")
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted")
        return 130
    print(model_card.summary(card, args.out))
    return 0
