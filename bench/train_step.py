"""What one training step costs, per picture, for the network's layout choices.

Prints figures; asserts nothing. The machine may be shared: the figures are medians, and each
variant is timed in turns with the others so that a busy spell hits them all alike.

    .venv/bin/python bench/train_step.py [--batch-size 256] [--rounds 5] [--threads 2]

Variants: the network as `model.DigitCNN` builds it (channels-last weights, each block's pool
before its BatchNorm and ReLU), the same with plain (NCHW) weights, with the older block order
(BatchNorm and ReLU on the full-size maps, then the pool), and with neither choice. Each step is
training's own (`train.step`). Then inference: torch in float32 at a few batch sizes, and ONNX
Runtime, as training's calibration and test scoring use them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as in train.py

import torch

from digit_knower.reader.predictor import BATCH_CHUNK, Network
from digit_knower.training import train
from digit_knower.training.config import DEFAULT_THREADS, TrainConfig
from digit_knower.training.export import export_onnx
from digit_knower.training.model import DigitCNN, predict_logits


def pool_last(model: DigitCNN) -> DigitCNN:
    """The older block order: conv -> BatchNorm -> ReLU -> pool."""
    for block in model.features:
        conv, pool, norm, relu = list(block)
        block[0], block[1], block[2], block[3] = conv, norm, relu, pool
    return model


def nchw(model: DigitCNN) -> DigitCNN:
    """Plain (NCHW) weights instead of channels-last."""
    return model.to(memory_format=torch.contiguous_format)


def variants() -> dict[str, DigitCNN]:
    return {
        "as built (channels-last, pool first)": DigitCNN(),
        "NCHW weights, pool first": nchw(DigitCNN()),
        "channels-last, pool last (older order)": pool_last(DigitCNN()),
        "NCHW weights, pool last (neither choice)": nchw(pool_last(DigitCNN())),
    }


def step_seconds(model: DigitCNN, batch_size: int, steps: int = 10) -> float:
    """Median seconds of one training step (`train.step`: bf16 forward, loss, backward, AdamW) on
    random pictures."""
    cfg = TrainConfig()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    constant = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    x, y = torch.rand(batch_size, 1, 28, 28), torch.randint(0, 11, (batch_size,))
    model.train()
    times = []
    for i in range(steps + 2):  # the first two warm oneDNN's caches up
        started = time.perf_counter()
        train.step(model, optimizer, constant, x, y, cfg)
        if i >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def inference_figures(count: int = 10_000) -> None:
    model = DigitCNN()
    images = torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8)
    for batch_size in (250, 1000):
        started = time.perf_counter()
        predict_logits(model, images, batch_size=batch_size)
        per_picture = (time.perf_counter() - started) / count
        print(f"  torch float32 inference, batch {batch_size}: {per_picture * 1e6:.0f} µs per picture")
    with tempfile.TemporaryDirectory() as folder:
        onnx_path = Path(folder) / "model.onnx"
        export_onnx(model, onnx_path)
        started = time.perf_counter()
        Network.open(onnx_path, threads=0).logits(images.numpy())
        per_picture = (time.perf_counter() - started) / count
    print(f"  ONNX Runtime inference, batch {BATCH_CHUNK}: {per_picture * 1e6:.0f} µs per picture")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=TrainConfig().batch_size)
    parser.add_argument("--rounds", type=int, default=5, help="turns through all the variants")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="torch threads, as `train --threads`"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(
        f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, "
        f"{args.threads} torch threads; "
        f"bf16 convolutions: {train.bf16_available()}"
    )
    models = variants()
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, model in models.items():
            times[name].append(step_seconds(model, args.batch_size))
    print(f"training step, batch {args.batch_size} (median of {args.rounds} rounds of 10 steps):")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name}: {median * 1e3:.0f} ms a step, {median / args.batch_size * 1e6:.0f} µs per picture")
    inference_figures()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
