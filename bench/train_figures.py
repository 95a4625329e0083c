"""Training figures: 1 vs 2 torch threads, the quick preset, the default run and its reproducibility.

Prints figures; asserts nothing. The machine may be shared, so quote medians and say how busy it was.

    .venv/bin/python bench/train_figures.py            # threads, quick preset, the shipped card
    .venv/bin/python bench/train_figures.py --full     # + the default training, compared with the
                                                       #   shipped model (reproducibility)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / ".venv" / "bin" / "digit-knower"


def seconds_per_epoch(threads: int, data_dir: Path, steps: int = 40, repeats: int = 3) -> float:
    """Median wall time of `steps` real training steps (augmentation included), scaled to one epoch."""
    import torch
    import torch.nn.functional as F

    from digit_knower import train
    from digit_knower.data import load_mnist

    torch.set_num_threads(threads)
    cfg = train.TrainConfig()
    images = torch.from_numpy(load_mnist(data_dir).train.images[: steps * cfg.batch_size].copy())
    labels = torch.randint(0, 10, (len(images),))
    model = train.DigitCNN()
    optimizer = torch.optim.AdamW(model.parameters())
    g = torch.Generator().manual_seed(0)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        for start in range(0, len(images), cfg.batch_size):
            x = train.augment(train.to_float(images[start : start + cfg.batch_size]), g, cfg)
            loss = F.cross_entropy(model(x), labels[start : start + cfg.batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) / steps * (55_000 / cfg.batch_size)


def timed_training(data_dir: Path, *extra: str) -> tuple[float, dict]:
    """Run `digit-knower train` in a fresh process; wall seconds and the model card."""
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [str(CLI), "train", "--data-dir", str(data_dir), "--out", out, *extra],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        return wall, json.loads((Path(out) / "model_card.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument("--full", action="store_true", help="also run the default training (minutes)")
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for threads in (1, 2):
        per_epoch = seconds_per_epoch(threads, args.data_dir)
        print(f"torch threads {threads}: {per_epoch:.0f} s per epoch (median of 3)")

    wall, card = timed_training(args.data_dir, "--epochs", "1")
    print(f"quick preset (--epochs 1): test accuracy {card['test_accuracy']:.2%}, {wall:.0f} s wall")

    shipped = json.loads((REPO / "model" / "model_card.json").read_text())
    print(
        f"shipped model {shipped['version']}: test accuracy {shipped['test_accuracy']:.2%}, "
        f"validation {shipped['val_accuracy']:.2%}, trained in {shipped['train_seconds']:.0f} s, "
        f"ONNX vs torch max probability difference {shipped['onnx_max_prob_diff']:.1e}"
    )
    if args.full:
        wall, card = timed_training(args.data_dir)
        gap = 100 * abs(card["test_accuracy"] - shipped["test_accuracy"])
        print(
            f"default training, seed {card['seed']}: test accuracy {card['test_accuracy']:.2%}, "
            f"{wall:.0f} s wall; "
            f"{gap:.2f} points from the shipped model ({'within' if gap <= 0.1 else 'NOT within'} 0.1)"
        )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
