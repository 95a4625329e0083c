"""Training figures: how long `digit-knower train` takes, part by part, and what it reaches.

Prints figures; asserts nothing. The machine may be shared, so say how busy it was.

    .venv/bin/python bench/train_figures.py            # the quick preset (--epochs 1), on the
                                                       #   cache in DIGIT_KNOWER_CACHE_DIR (built
                                                       #   first if it is missing)
    .venv/bin/python bench/train_figures.py --full     # first the default training on a fresh,
                                                       #   empty cache (the whole first run), then
                                                       #   the quick preset on the cache it built

Each run is a fresh `digit-knower train` process; its parts come from the card's "seconds":
"data" (load MNIST, and build the stroke cache when it is missing), "training" (epochs, then the
temperature and thresholds), "export_and_test" (ONNX export and check, the test-side figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from digit_knower.settings import SHIPPED_MODEL_DIR

REPO = Path(__file__).resolve().parents[1]
CLI = REPO / ".venv" / "bin" / "digit-knower"


def timed_training(data_dir: Path, cache_dir: Path | None, *extra: str) -> tuple[float, dict]:
    """Run `digit-knower train` in a fresh process; wall seconds and the model card."""
    cache = ("--cache-dir", str(cache_dir)) if cache_dir else ()
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        subprocess.run(
            [str(CLI), "train", "--data-dir", str(data_dir), "--out", out, *cache, *extra],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - started
        return wall, json.loads((Path(out) / "model_card.json").read_text())


def report(name: str, wall: float, card: dict) -> None:
    parts = ", ".join(f"{part} {seconds:.0f} s" for part, seconds in card["seconds"].items())
    reader = card["reader"]
    print(
        f"{name}: {wall:.0f} s wall ({parts}); MNIST test {card['test_accuracy']:.2%}, "
        f"validation {card['val_accuracy']:.2%}, ECE {reader['test_ece']:.2%}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument(
        "--full", action="store_true", help="also run the default training on a fresh cache (~15 min)"
    )
    args = parser.parse_args()

    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as fresh_cache:
        cache_dir = Path(fresh_cache) if args.full else None
        if args.full:
            report("default training, empty cache", *timed_training(args.data_dir, cache_dir))
        report("quick preset (--epochs 1)", *timed_training(args.data_dir, cache_dir, "--epochs", "1"))

    shipped = json.loads((SHIPPED_MODEL_DIR / "model_card.json").read_text())
    print(
        f"shipped model {shipped['version']}: MNIST test {shipped['test_accuracy']:.2%}, "
        f"seconds {shipped['seconds']}, "
        f"ONNX vs torch max probability difference {shipped['onnx_max_prob_diff']:.1e}"
    )
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
