"""`digit-knower train`: the data mix, augmentation, the training loop, calibration, ONNX export and
the model card.

Each mini-batch mixes three sources, all in memory as uint8 tensors: MNIST training digits as the
reader serves them, through its preprocessing (augmented on the fly: random stroke thickness, then
a random affine warp), the same digits redrawn as people draw them, and drawings that are no digit,
the eleventh class (all three made once and cached by `train_data`). A validation split is held
out of all three for every choice: the temperature and the reader's thresholds are fitted on it
after training (`calibrate`). The test sets are scored once, at the very end, and only reported.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# On a shared machine, spinning OpenMP threads wait for a thread that another process has pushed
# off its core, and an epoch took 3-10x longer; passive waiting measured steadier. It is only read
# when torch starts, hence before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F
from tqdm import tqdm

from digit_knower.data.mnist import DataError, Mnist, load_mnist
from digit_knower.reader import second_look
from digit_knower.reader.predictor import MODEL_FILE, WEIGHTS_FILE
from digit_knower.settings import get_settings
from digit_knower.training import calibrate, evaluate, model_card
from digit_knower.training import data_mix as train_data
from digit_knower.training.model import CLASSES, NOT_A_DIGIT, DigitCNN, architecture, count_parameters

# Measured on the 2-core development machine (`bench/train_step.py --threads 1` and `2`, run in
# turns): a training step took 460-550 µs a picture on 2 threads against 740-810 µs on 1, so 2
# is the default. (With the machine busy, both slow down, and `--threads 1` can be steadier.)
DEFAULT_THREADS = 2

# ONNX Runtime and torch must agree this closely on every test image, or training fails.
MAX_PROB_DIFF = 1e-4


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    batch_size: int = 256
    max_lr: float = 5e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    dropout: float = 0.3
    widths: tuple[int, int, int] = (48, 96, 192)
    val_size: int = 5000
    seed: int = 0
    threads: int = DEFAULT_THREADS
    # Convolutions in bfloat16 where the CPU has instructions for it (measured about twice as fast
    # here; weights, BatchNorm and the loss stay in float32).
    bf16: bool = True
    # Each batch: this share of redrawn digits, this share of non-digits, MNIST digits for the rest.
    # An epoch is one pass over the MNIST training digits.
    redrawn_share: float = 0.25
    nondigit_share: float = 0.1
    redraws: int = 2  # redrawings made (and cached) of each training digit
    nondigits: int = 30_000  # non-digit drawings made (and cached) for training ...
    val_nondigits: int = 3_000  # ... and for validation
    # The reader's thresholds (see calibrate.pick_thresholds): the share of validation digits they
    # may turn away as "not a digit", and call "unsure".
    rejected_share: float = 0.003
    unsure_share: float = 0.004
    # Augmentation: the ranges of the random affine warp ...
    max_rotation_deg: float = 12.0
    max_scale: float = 0.12
    max_shift_px: float = 2.5
    max_shear: float = 0.15
    # ... and the share of MNIST digits drawn thicker / thinner, so that thick marker strokes and thin
    # pen strokes on the canvas look familiar after preprocessing.
    thicken_p: float = 0.2
    thin_p: float = 0.15
    # Tests train on a subset; None means all of it.
    train_limit: int | None = None


class TrainingFailed(Exception):
    """Training ran but its result cannot be shipped (e.g. ONNX and torch disagree)."""


# ---------------------------------------------------------------------------------------------
# Augmentation: batched on tensors, driven by one seeded generator.
# ---------------------------------------------------------------------------------------------


def dilate(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grey-level dilation with a size x size square: strokes grow by size-1 pixels."""
    padded = F.pad(x, (size // 2, (size - 1) // 2, size // 2, (size - 1) // 2))
    return F.max_pool2d(padded, size, stride=1)


def erode(x: torch.Tensor, size: int) -> torch.Tensor:
    """Grey-level erosion (the dual of dilation): strokes shrink by size-1 pixels."""
    return -dilate(-x, size)


def vary_stroke(x: torch.Tensor, g: torch.Generator, thicken_p: float, thin_p: float) -> torch.Tensor:
    """Thicken a share of the digits by 1-2 px; thin another share by 1 px and dim it.

    A thin pen stroke, once the canvas is shrunk to 20x20, is a faint line about one pixel wide,
    hence the random dimming of the thinned digits.
    """
    n = x.shape[0]
    choice = torch.rand(n, generator=g)
    extra = torch.rand(n, generator=g) < 0.5
    brightness = 0.3 + 0.7 * torch.rand(n, generator=g).view(n, 1, 1, 1)
    thicken = choice < thicken_p
    thin = (choice >= thicken_p) & (choice < thicken_p + thin_p)
    out = x.clone()
    # Each morphology runs on the digits it changes only: most of a batch is left as it is.
    for chosen, change in (
        (thicken & extra, lambda d: dilate(d, 3)),
        (thicken & ~extra, lambda d: dilate(d, 2)),
        (thin, lambda d: erode(d, 2)),
    ):
        index = torch.nonzero(chosen).flatten()
        if index.numel():
            out[index] = change(x[index])
    return torch.where(thin.view(n, 1, 1, 1), out * brightness, out)


def random_affine(x: torch.Tensor, g: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    """Rotate, scale, shear and shift every digit by its own random amount (bilinear, black fill)."""
    n = x.shape[0]

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(n, generator=g) * 2 - 1) * limit

    angle = uniform(math.radians(cfg.max_rotation_deg))
    scale = 1 + uniform(cfg.max_scale)
    shear = uniform(cfg.max_shear)
    shift = uniform(cfg.max_shift_px * 2 / 28), uniform(cfg.max_shift_px * 2 / 28)  # grid units: 28 px = 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear, shift[0]], 1), torch.stack([sin, cos, shift[1]], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(x: torch.Tensor, g: torch.Generator, cfg: TrainConfig) -> torch.Tensor:
    return random_affine(vary_stroke(x, g, cfg.thicken_p, cfg.thin_p), g, cfg)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) pixel/255, the model's input."""
    return images.unsqueeze(1).float().div_(255)


# ---------------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------------


@torch.no_grad()
def predict_logits(model: DigitCNN, images: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    # Batches of 250 ran at 0.32 ms a picture, of 1,000 at 0.38 ms (bench/train_step.py).
    model.eval()
    return torch.cat([model(to_float(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])


def digit_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The share whose likeliest digit (the ten digits only) is the label."""
    return (logits[:, :10].argmax(1) == labels).float().mean().item()


def split_indices(count: int, cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices into the MNIST training set: a seeded random split."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(cfg.seed))
    val, train = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.train_limit is not None:
        train = train[: cfg.train_limit]
    return train, val


@dataclass(frozen=True)
class Part:
    """One source of inputs: uint8 (N, 28, 28) and labels (N,), 10 meaning "not a digit"."""

    images: torch.Tensor
    labels: torch.Tensor


@dataclass(frozen=True)
class Data:
    """What training reads (MNIST, redrawn, non-digits) and the validation split of each."""

    train: dict[str, Part]
    val: dict[str, Part]


def prepare_data(mnist: Mnist, cfg: TrainConfig, cache_dir: Path) -> Data:
    """MNIST's training split (preprocessed), its redrawings and the non-digits, each split the same way.

    A validation digit's redrawings stay in validation, and the non-digits made of run-together
    digits take them from their own side of the split.
    """
    images = mnist.train.images
    labels = torch.from_numpy(mnist.train.labels.astype(np.int64))
    train, val = split_indices(len(images), cfg)
    made = {
        side: train_data.load_or_make(
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

    return Data(train=parts("train", train), val=parts("val", val))


def mix(count: int, cfg: TrainConfig) -> dict[str, int]:
    """How many of `count` inputs each source gives: redrawn digits and non-digits in their
    shares, MNIST digits for the rest."""
    others = {"redrawn": round(count * cfg.redrawn_share), "nondigits": round(count * cfg.nondigit_share)}
    return {"mnist": count - sum(others.values()), **others}


def batches(data: Data, g: torch.Generator, cfg: TrainConfig) -> list[dict[str, torch.Tensor]]:
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


def make_batch(
    data: Data, picks: dict[str, torch.Tensor], g: torch.Generator, cfg: TrainConfig
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


def validation_logits(model: DigitCNN, data: Data, every_redrawing: bool = True) -> dict[str, torch.Tensor]:
    """The model's logits on the validation split, source by source, at its current temperature.

    With `every_redrawing` False, only the first redrawing of each validation digit is read: enough
    to follow training from epoch to epoch, at less cost. Calibration needs them all.
    """
    redrawn = data.val["redrawn"].images
    return {
        "mnist": predict_logits(model, data.val["mnist"].images),
        "redrawn": predict_logits(model, redrawn if every_redrawing else redrawn[:: redraws_of(data)]),
        "nondigits": predict_logits(model, data.val["nondigits"].images),
    }


def redraws_of(data: Data) -> int:
    """How many redrawings each validation digit has (they follow each other, digit by digit)."""
    return len(data.val["redrawn"].labels) // len(data.val["mnist"].labels)


def validation_figures(logits: dict[str, torch.Tensor], data: Data) -> dict[str, float]:
    """Accuracy on the validation digits (MNIST, and the first redrawing of each) and the share of
    non-digits called so, from `validation_logits` (with every redrawing or only the first)."""
    # The first redrawing of each digit, whether `logits` holds every redrawing or only those.
    redrawn = logits["redrawn"][:: len(logits["redrawn"]) // len(data.val["mnist"].labels)]
    return {
        "val_accuracy": digit_accuracy(logits["mnist"], data.val["mnist"].labels),
        "val_redrawn_accuracy": digit_accuracy(redrawn, data.val["redrawn"].labels[:: redraws_of(data)]),
        "val_nondigits_found": (logits["nondigits"].argmax(1) == NOT_A_DIGIT).float().mean().item(),
    }


def train_model(data: Data, cfg: TrainConfig) -> tuple[DigitCNN, list[dict], dict[str, torch.Tensor]]:
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
    history = []
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        loss, train_acc = train_epoch(model, optimizer, schedule, data, g, cfg, epoch)
        logits = validation_logits(model, data, every_redrawing=epoch == cfg.epochs)
        figures = validation_figures(logits, data)
        seconds = time.perf_counter() - started
        history.append(
            {"epoch": epoch, "loss": loss, "train_accuracy": train_acc, **figures, "seconds": seconds}
        )
        tqdm.write(
            f"epoch {epoch:>2}/{cfg.epochs}  loss {loss:.4f}  train acc {train_acc:.2%}  "
            f"val acc {figures['val_accuracy']:.2%}  redrawn {figures['val_redrawn_accuracy']:.2%}  "
            f"non-digits found {figures['val_nondigits_found']:.2%}  ({seconds:.0f} s)"
        )
    return model, history, logits


def train_epoch(
    model, optimizer, schedule, data: Data, g, cfg: TrainConfig, epoch: int
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


def step(model, optimizer, schedule, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig) -> tuple[float, int]:
    """One optimisation step on a batch (training and retraining's fine-tuning both take it);
    returns the batch's mean loss and how many it got right."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16 and bf16_available()):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    schedule.step()
    return loss.item(), int((logits.argmax(1) == y).sum().item())


def random_picks(data: Data, count: int, g: torch.Generator, cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """`count` random inputs from the three sources, in their shares: a batch of the usual mix
    (for fine-tuning, which takes steps rather than epochs)."""
    return {
        name: torch.randint(len(data.train[name].labels), (n,), generator=g)
        for name, n in mix(count, cfg).items()
    }


def bf16_available() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (else autocast would only slow it down)."""
    return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())


# ---------------------------------------------------------------------------------------------
# Calibration on the validation split
# ---------------------------------------------------------------------------------------------


def calibrate_reader(model: DigitCNN, data: Data, cfg: TrainConfig, raw: dict[str, torch.Tensor]) -> dict:
    """Fit the temperature into the model and pick the reader's thresholds, on validation only.

    `raw` is the model's `validation_logits` before calibration (temperature 1, every redrawing):
    training has them from its last epoch, so the validation split is not read twice.
    Returns the card's "reader" section: the temperature, the thresholds and what they do to the
    validation split (the share of digits turned away or called unsure, the share of non-digits
    caught).
    """
    if model.temperature.item() != 1.0:
        raise ValueError("calibrate_reader: the model is calibrated already; `raw` must be uncalibrated")
    digits = torch.cat([data.val["mnist"].images, data.val["redrawn"].images])
    labels = torch.cat([data.val["mnist"].labels, data.val["redrawn"].labels])
    digit_logits = torch.cat([raw["mnist"], raw["redrawn"]]).numpy()
    temperature = calibrate.fit_temperature(digit_logits, labels.numpy())
    model.temperature.fill_(temperature)
    # The thresholds act on the logits as the reader will serve them: second look included.
    calibrated = as_served(model, digits, first_look=digit_logits / temperature)
    thresholds = calibrate.pick_thresholds(calibrated, cfg.rejected_share, cfg.unsure_share)
    others = as_served(model, data.val["nondigits"].images, first_look=raw["nondigits"].numpy() / temperature)
    return {
        "temperature": temperature,
        "not_a_digit_threshold": thresholds.not_a_digit,
        "unsure_threshold": thresholds.unsure,
        "val_digits_turned_away": _turned_away(calibrated, thresholds),
        "val_nondigits_caught": _turned_away(others, thresholds),
    }


def as_served(model: DigitCNN, images: torch.Tensor, first_look: np.ndarray) -> np.ndarray:
    """The logits the Predictor would get for these 28x28 inputs: the model's first look at them
    (calibrated, which the caller has already) and a second look (`second_look`) at the undecided."""

    def run(inputs: np.ndarray) -> np.ndarray:
        return predict_logits(model, torch.from_numpy(inputs)).numpy()

    return second_look.with_second_look(first_look, images.numpy(), run)


def _turned_away(logits: np.ndarray, thresholds: calibrate.ReaderThresholds) -> float:
    """The share that the reader would call "not a digit" or "unsure" (each input read alone)."""
    not_a_digit = calibrate.softmax(logits)[:, NOT_A_DIGIT]
    confidence = calibrate.softmax(logits[:, :10]).max(axis=1)
    return float(np.mean((not_a_digit >= thresholds.not_a_digit) | (confidence < thresholds.unsure)))


# ---------------------------------------------------------------------------------------------
# Export and checks
# ---------------------------------------------------------------------------------------------


def export_onnx(model: DigitCNN, path: Path) -> None:
    """Write ONE self-contained ONNX file: input `image` [N,1,28,28], output `logits` [N,11] (the
    temperature applied)."""
    model.eval()
    example = torch.zeros(2, 1, 28, 28)
    # The exporter's chatter (e.g. "torchvision is not installed") is not for the user.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"image": {0: torch.export.Dim("batch")}},
            external_data=False,  # weights inside the file: no .onnx.data sidecar
            dynamo=True,
            verbose=False,
        )
    sidecars = list(path.parent.glob(path.name + ".data"))
    if sidecars:
        raise TrainingFailed(f"ONNX export left a weights sidecar {sidecars[0]}; the model must be one file")


def check_onnx_matches_torch(onnx_path: Path, torch_logits: torch.Tensor, images: np.ndarray) -> float:
    """Run ONNX Runtime on every test image; fail unless argmaxes match and probabilities agree."""
    ort_logits = evaluate.onnx_logits(onnx_path, images)
    ort_probs, torch_probs = evaluate.softmax(ort_logits), evaluate.softmax(torch_logits.numpy())
    mismatched = int((ort_probs.argmax(1) != torch_probs.argmax(1)).sum())
    max_diff = float(np.abs(ort_probs - torch_probs).max())
    if mismatched or max_diff >= MAX_PROB_DIFF:
        raise TrainingFailed(
            f"the ONNX export disagrees with torch on the test set: {mismatched} different predictions, "
            f"largest probability difference {max_diff:.2e} (limit {MAX_PROB_DIFF:.0e})"
        )
    return max_diff


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------


def run(cfg: TrainConfig, data_dir: Path, out: Path, cache_dir: Path | None = None) -> dict:
    """Train, calibrate, score the test sets once, export and check ONNX, write weights, card and plots."""
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    mnist = load_mnist(data_dir)
    cache_dir = Path(cache_dir) if cache_dir else get_settings().cache_dir
    data = prepare_data(mnist, cfg, cache_dir)
    seconds = {"data": time.perf_counter() - started}
    model, history, val_logits = train_model(data, cfg)
    reader = calibrate_reader(model, data, cfg, val_logits)
    seconds["training"] = time.perf_counter() - started - seconds["data"]

    # Everything is written to a staging folder first and moved into `out` only once the ONNX
    # check has passed: a failed run never replaces a model that is being served.
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=out))
    try:
        card = write_outputs(model, history, reader, mnist, cfg, seconds, staging, cache_dir)
        for path in staging.iterdir():
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    model_card.register_in_database(card)
    return card


def write_outputs(
    model: DigitCNN,
    history: list[dict],
    reader: dict,
    mnist: Mnist,
    cfg: TrainConfig,
    seconds: dict[str, float],
    out: Path,
    cache_dir: Path,
) -> dict:
    """Score the test set (once), export and check ONNX, write the weights, then the card and plots
    with the reader's figures on the test sets."""
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
    seconds["export_and_test"] = time.perf_counter() - started
    card["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
    card["train_seconds"] = card["seconds"]["training"]
    model_card.write(card, out)
    model_card.save_plots(card, out)
    return card


def export_with_card(
    model: DigitCNN,
    cfg: TrainConfig,
    mnist: Mnist,
    out: Path,
    *,
    seed: int,
    threads: int,
    history: list[dict],
    val_accuracy: float,
    reader: dict,
    cache_dir: Path,
) -> dict:
    """A trained, calibrated model into `out`: the MNIST test set scored (once), the ONNX file
    exported and checked against torch, the weights, and the card with the reader's figures on the
    test-side sets. Training and fine-tuning both end here; the card is returned, not written."""
    test_logits = predict_logits(model, torch.from_numpy(mnist.test.images.copy()))
    onnx_path = out / MODEL_FILE
    export_onnx(model, onnx_path)
    max_diff = check_onnx_matches_torch(onnx_path, test_logits, mnist.test.images)
    torch.save(model.state_dict(), out / WEIGHTS_FILE)

    card = model_card.build(
        onnx_path,
        test_logits=test_logits.numpy(),
        test_labels=mnist.test.labels,
        architecture=architecture(tuple(cfg.widths), CLASSES),
        parameters=count_parameters(model),
        config={k: v for k, v in asdict(cfg).items() if k not in ("seed", "threads")},
        seed=seed,
        threads=threads,
        data_sha256=mnist.sha256,
        history=history,
        val_accuracy=val_accuracy,
        reader=reader,
        onnx_max_prob_diff=max_diff,
    )
    # The reader as served (preprocessing, segmentation, verdicts), on the test-side sets.
    card["reader"].update(model_card.reader_test_figures(out, card, mnist.test, cache_dir))
    return card


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    defaults = TrainConfig()
    return TrainConfig(
        epochs=args.epochs or defaults.epochs,
        batch_size=args.batch_size or defaults.batch_size,
        seed=args.seed,
        threads=args.threads or DEFAULT_THREADS,
    )


def main(args: argparse.Namespace) -> int:
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


if __name__ == "__main__":
    from digit_knower.cli import main as cli_main

    sys.exit(cli_main(["train", *sys.argv[1:]]))
