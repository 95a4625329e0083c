"""`digit-knower train`: augmentation, the training loop, evaluation, ONNX export and the model card.

The whole of MNIST lives in memory as uint8 tensors; each mini-batch is converted to float and
augmented on the fly, batched on tensors (random stroke thickness, then a random affine warp).
A validation split is held out of the training set for every choice; the test set is scored once,
at the very end.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

# On a shared machine, spinning OpenMP threads wait for a thread that another process has pushed
# off its core, and an epoch took 3-10x longer; passive waiting measured steadier. It is only read
# when torch starts, hence before the import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch
import torch.nn.functional as F
from tqdm import tqdm

from digit_knower import evaluate
from digit_knower.data import DataError, Mnist, load_mnist
from digit_knower.model import ARCHITECTURE, DigitCNN, count_parameters

# Measured on the 2-core development machine (bench/train_figures.py): on an idle machine an
# epoch took 25 s on 2 threads against 46 s on 1, so 2 is the default. (With the machine busy,
# both slow down, and `--threads 1` can be steadier.)
DEFAULT_THREADS = 2

# ONNX Runtime and torch must agree this closely on every test image, or training fails.
MAX_PROB_DIFF = 1e-4


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 15
    batch_size: int = 128
    max_lr: float = 5e-3
    weight_decay: float = 5e-4
    label_smoothing: float = 0.1
    dropout: float = 0.3
    val_size: int = 5000
    seed: int = 0
    threads: int = DEFAULT_THREADS
    # Augmentation: the ranges of the random affine warp ...
    max_rotation_deg: float = 12.0
    max_scale: float = 0.12
    max_shift_px: float = 2.5
    max_shear: float = 0.15
    # ... and the share of digits drawn thicker / thinner, so that thick marker strokes and thin
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
    choice = torch.rand(n, generator=g).view(n, 1, 1, 1)
    extra = torch.rand(n, generator=g).view(n, 1, 1, 1) < 0.5
    brightness = 0.3 + 0.7 * torch.rand(n, generator=g).view(n, 1, 1, 1)
    thick = torch.where(extra, dilate(x, 3), dilate(x, 2))
    out = torch.where(choice < thicken_p, thick, x)
    thin = (choice >= thicken_p) & (choice < thicken_p + thin_p)
    return torch.where(thin, erode(x, 2) * brightness, out)


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
def predict_logits(model: DigitCNN, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(to_float(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])


def accuracy(model: DigitCNN, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (predict_logits(model, images).argmax(1) == labels).float().mean().item()


def split_train_val(
    images: torch.Tensor, labels: torch.Tensor, cfg: TrainConfig
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A seeded random validation split, held out of training for every choice."""
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(cfg.seed))
    val, train = order[: cfg.val_size], order[cfg.val_size :]
    if cfg.train_limit is not None:
        train = train[: cfg.train_limit]
    return (images[train], labels[train]), (images[val], labels[val])


def train_model(mnist: Mnist, cfg: TrainConfig) -> tuple[DigitCNN, list[dict]]:
    """Train on the training split; return the model after the last epoch and the per-epoch history."""
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    images, labels = torch.from_numpy(mnist.train.images.copy()), torch.from_numpy(mnist.train.labels.copy())
    (x_train, y_train), (x_val, y_val) = split_train_val(images, labels.long(), cfg)

    model = DigitCNN(dropout=cfg.dropout)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.max_lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.max_lr, total_steps=cfg.epochs * steps_per_epoch
    )
    history = []
    for epoch in range(1, cfg.epochs + 1):
        started = time.perf_counter()
        loss, train_acc = train_epoch(model, optimizer, schedule, x_train, y_train, g, cfg, epoch)
        val_acc = accuracy(model, x_val, y_val)
        seconds = time.perf_counter() - started
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "train_accuracy": train_acc,
                "val_accuracy": val_acc,
                "seconds": seconds,
            }
        )
        tqdm.write(
            f"epoch {epoch:>2}/{cfg.epochs}  loss {loss:.4f}  train acc {train_acc:.2%}  "
            f"val acc {val_acc:.2%}  ({seconds:.0f} s)"
        )
    return model, history


def train_epoch(
    model, optimizer, schedule, x_train, y_train, g, cfg: TrainConfig, epoch: int
) -> tuple[float, float]:
    """One pass over the shuffled training split; returns the mean loss and accuracy on augmented digits."""
    model.train()
    order = torch.randperm(len(x_train), generator=g)
    total_loss, correct, seen = 0.0, 0, 0
    batches = range(0, len(order), cfg.batch_size)
    bar = tqdm(batches, desc=f"epoch {epoch}/{cfg.epochs}", unit="batch", leave=False, dynamic_ncols=True)
    for start in bar:
        idx = order[start : start + cfg.batch_size]
        x, y = augment(to_float(x_train[idx]), g, cfg), y_train[idx]
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        total_loss += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.2%}", refresh=False)
    return total_loss / seen, correct / seen


# ---------------------------------------------------------------------------------------------
# Export and checks
# ---------------------------------------------------------------------------------------------


def export_onnx(model: DigitCNN, path: Path) -> None:
    """Write ONE self-contained ONNX file: input `image` [N,1,28,28], output `logits` [N,10]."""
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
# Model card and plots
# ---------------------------------------------------------------------------------------------


def library_versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def model_version(onnx_path: Path, created: datetime) -> str:
    """Unique per trained model: the date plus the start of the ONNX file's hash."""
    digest = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    return f"dk-{created:%Y%m%d}-{digest[:8]}"


def save_plots(history: list[dict], matrix: np.ndarray, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["loss"] for h in history], marker="o")
    ax_loss.set(title="training loss (label-smoothed)", xlabel="epoch", ylabel="loss")
    ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], marker="o", label="train (augmented)")
    ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in history], marker="o", label="validation")
    ax_acc.set(title="accuracy", xlabel="epoch", ylabel="%")
    ax_acc.legend()
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "training_curves.png", dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    # Log colour scale: the diagonal holds ~1000 per cell, the mistakes a handful.
    image = ax.imshow(matrix + 1, cmap="Blues", norm=matplotlib.colors.LogNorm())
    for (t, p), n in np.ndenumerate(matrix):
        if n:
            ax.text(p, t, str(n), ha="center", va="center", fontsize=7, color="white" if t == p else "black")
    ax.set(xticks=range(10), yticks=range(10), xlabel="predicted digit", ylabel="true digit")
    ax.set_title(f"MNIST test set: {np.trace(matrix) / matrix.sum():.2%} correct")
    fig.colorbar(image, ax=ax, label="count + 1")
    fig.tight_layout()
    fig.savefig(out / "confusion_matrix.png", dpi=100)
    plt.close(fig)


def register_in_database(card: dict) -> None:
    """Record the model's metrics in the configured database; a failure only warns."""
    from digit_knower.settings import get_settings

    if not get_settings().database_url:
        return
    try:
        from digit_knower.store import Store

        store = Store.from_settings(get_settings())
        store.ensure_schema()
        store.register_model(card)
        print(f"registered model {card['version']} in the database")
    except Exception as e:  # the model files are written; a database problem must not lose them
        first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"warning: model not registered in the database ({first_line}); the model files are written")


# ---------------------------------------------------------------------------------------------
# The whole run
# ---------------------------------------------------------------------------------------------


def run(cfg: TrainConfig, data_dir: Path, out: Path) -> dict:
    """Train, score the test set once, export and check ONNX, write weights, card and plots."""
    torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    mnist = load_mnist(data_dir)
    model, history = train_model(mnist, cfg)
    train_seconds = time.perf_counter() - started

    # Everything is written to a staging folder first and moved into `out` only once the ONNX
    # check has passed: a failed run never replaces a model that is being served.
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".incomplete-", dir=out))
    try:
        card = write_outputs(model, history, mnist, cfg, train_seconds, staging)
        for path in staging.iterdir():
            os.replace(path, out / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    register_in_database(card)
    return card


def write_outputs(
    model: DigitCNN, history: list[dict], mnist: Mnist, cfg: TrainConfig, train_seconds: float, out: Path
) -> dict:
    """Score the test set (once), export and check ONNX, and write weights, card and plots into out."""
    test_logits = predict_logits(model, torch.from_numpy(mnist.test.images.copy()))
    matrix = evaluate.confusion_matrix(mnist.test.labels, test_logits.argmax(1).numpy())

    onnx_path = out / evaluate.ONNX_FILE
    export_onnx(model, onnx_path)
    max_diff = check_onnx_matches_torch(onnx_path, test_logits, mnist.test.images)
    torch.save(model.state_dict(), out / "digit_cnn.pt")

    created = datetime.now(UTC).replace(microsecond=0)
    card = {
        "version": model_version(onnx_path, created),
        "created_at": created.isoformat(),
        "architecture": ARCHITECTURE,
        "parameters": count_parameters(model),
        "hyperparameters": {k: v for k, v in asdict(cfg).items() if k not in ("seed", "threads")},
        "seed": cfg.seed,
        "threads": cfg.threads,
        "data_sha256": mnist.sha256,
        "library_versions": library_versions(),
        "train_seconds": round(train_seconds, 1),
        "val_accuracy": history[-1]["val_accuracy"],
        "test_accuracy": float(np.trace(matrix) / matrix.sum()),
        "per_class_accuracy": evaluate.per_class_accuracy(matrix),
        "confusion_matrix": matrix.tolist(),
        "onnx_max_prob_diff": max_diff,
        "history": history,
    }
    (out / evaluate.CARD_FILE).write_text(json.dumps(card, indent=2) + "\n")
    save_plots(history, matrix, out)
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
        card = run(cfg, Path(args.data_dir), Path(args.out))
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
    print(
        f"model {card['version']}: test accuracy {card['test_accuracy']:.2%}, "
        f"validation {card['val_accuracy']:.2%}, trained in {card['train_seconds']:.0f} s; "
        f"ONNX vs torch max probability difference {card['onnx_max_prob_diff']:.1e}; written to {args.out}"
    )
    return 0


if __name__ == "__main__":
    from digit_knower.cli import main as cli_main

    sys.exit(cli_main(["train", *sys.argv[1:]]))
