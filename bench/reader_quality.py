"""How well the reader reads people's drawings: every figure of the reader's issue, on fixed sets.

    .venv/bin/python bench/reader_quality.py [--model-dir model] [--data-dir ../shared/data/mnist]

All sets are built from MNIST *test* digits (or drawn from scratch) with fixed seeds
(digit_knower.training.reader_quality), and read through the whole reader: preprocessing,
segmentation, the ONNX
model and its verdicts. Prints, with the sizes of the sets:
- MNIST test through predict_batch: accuracy (the best guess, whatever the verdict), how many
  are not called "digit", and the ECE (15 bins) before and after temperature scaling;
- mouse-style redrawn test digits, per polarity and pooled: accuracy, and the share not "digit";
- digits touching an edge or a corner vs the same digits centred: accuracy, refusals;
- non-digits: the share called "not_a_digit" or "unsure", per family;
- several digits side by side: the share found, and the share with every digit right in order;
- latency: `predict` on a 280x280 canvas, preprocessing included (median of --latency-runs).
The machine may be shared: say how busy it was when quoting the latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from digit_knower.data.mnist import load_test
from digit_knower.reader.classes import softmax
from digit_knower.reader.predictor import Predictor
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training import calibrate
from digit_knower.training import reader_quality as quality
from digit_knower.training.drawings import redraw


def mnist(predictor: Predictor, model_dir: Path, test) -> None:
    figures = quality.mnist_figures(predictor, test)
    card = json.loads((model_dir / "model_card.json").read_text())
    temperature = card.get("reader", {}).get("temperature", 1.0)
    logits = predictor.network.logits(test.images)[:, :10]
    right = logits.argmax(1) == test.labels
    before = calibrate.ece(softmax(logits * temperature).max(1), right)
    print(f"MNIST test ({len(test.labels)}), through predict_batch: {figures['accuracy']:.2%} right;")
    print(f"  {figures['not_verdict_digit']} not called 'digit'; ECE {before:.2%} before the temperature")
    print(f"  ({temperature:.3f}), {figures['ece']:.2%} after")


def mouse_style(predictor: Predictor, test, per_polarity: int) -> None:
    drawings = quality.mouse_style(test, per_polarity)
    read = quality.read(predictor, drawings)
    print(f"mouse-style redrawn test digits ({per_polarity} per polarity):")
    for paint in redraw.POLARITIES:
        chosen = [i for i, p in enumerate(drawings.paints) if p == paint]
        sub = [read[i] for i in chosen]
        accuracy = quality.accuracy(sub, [drawings.labels[i] for i in chosen])
        print(f"  {paint:<22} {accuracy:.2%} right, {1 - quality.share(sub, ('digit',)):.2%} not 'digit'")
    print(
        f"  {'pooled':<22} {quality.accuracy(read, drawings.labels):.2%} right, "
        f"{1 - quality.share(read, ('digit',)):.2%} not 'digit'"
    )


def edges(predictor: Predictor, test, per_position: int) -> None:
    touching, centred = quality.touching_edges(test, per_position)
    touching_read, centred_read = quality.read(predictor, touching), quality.read(predictor, centred)
    print(
        f"digits touching an edge or a corner ({len(touching)}: {per_position} per position and polarity): "
        f"{quality.accuracy(touching_read, touching.labels):.2%} right, "
        f"{touching_read.count(None)} refused as blank; the same digits centred: "
        f"{quality.accuracy(centred_read, centred.labels):.2%}"
    )


def nondigits(predictor: Predictor, test, count: int) -> None:
    drawings = quality.nondigit_set(test, count)
    read = quality.read(predictor, drawings)
    families = quality.nondigit_families(drawings)
    print(
        f"non-digits ({count}): {quality.share(read, ('not_a_digit', 'unsure')):.2%} called "
        f"'not_a_digit' or 'unsure' ({quality.share(read, ('not_a_digit',)):.2%} 'not_a_digit')"
    )
    for family in dict.fromkeys(families):
        sub = [r for r, f in zip(read, families, strict=True) if f == family]
        verdicts = Counter(r.verdict if r else "blank" for r in sub)
        print(
            f"  {family:<13} {quality.share(sub, ('not_a_digit', 'unsure')):.2%}  "
            f"({', '.join(f'{v} {n}' for v, n in verdicts.most_common())})"
        )


def several(predictor: Predictor, test, count: int) -> None:
    drawings = quality.several_digits_set(test, count)
    read = quality.read(predictor, drawings)
    found = quality.share(read, ("several_digits",))
    right = quality.all_digits_right(read, drawings.labels)
    print(
        f"several digits side by side ({count}, two or three): {found:.2%} found, "
        f"{right:.2%} with every digit right, in order"
    )


def latency(predictor: Predictor, test, runs: int) -> None:
    rng = np.random.default_rng(7)
    canvas = redraw.black_on_transparent(redraw.mouse_style(test.images[0], rng))
    for _ in range(50):
        predictor.predict(canvas)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        predictor.predict(canvas)
        times.append(time.perf_counter() - started)
    median_ms = statistics.median(times) * 1e3
    print(
        f"predict on a 280x280 RGBA canvas, preprocessing included: median {median_ms:.2f} ms ({runs} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--model-dir", type=Path, default=SHIPPED_MODEL_DIR, help="the model folder to measure"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist"), help="MNIST folder")
    parser.add_argument("--per-polarity", type=int, default=1000, help="mouse-style digits per polarity")
    parser.add_argument(
        "--edges-per-position", type=int, default=60, help="digits per edge position and polarity"
    )
    parser.add_argument("--nondigits", type=int, default=3000, help="non-digit drawings")
    parser.add_argument("--several", type=int, default=1000, help="pictures of several digits")
    parser.add_argument("--latency-runs", type=int, default=2000, help="timed predict calls")
    args = parser.parse_args()

    predictor = Predictor.from_dir(args.model_dir)
    test = load_test(args.data_dir, download=False)
    print(f"model {predictor.model_version} ({args.model_dir}); thresholds {predictor.thresholds}")
    mnist(predictor, args.model_dir, test)
    mouse_style(predictor, test, args.per_polarity)
    edges(predictor, test, args.edges_per_position)
    nondigits(predictor, test, args.nondigits)
    several(predictor, test, args.several)
    latency(predictor, test, args.latency_runs)


if __name__ == "__main__":
    main()
