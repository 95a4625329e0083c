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
- numbers written naturally (`reader_quality.number_set`): two or three MNIST validation digits
  (the digits the reader's settings were chosen on) and test digits, 3, 2, 1 px apart at MNIST scale,
  touching, and overlapping by 1-3 px: found, all right in order, "not a digit", per gap
  (`--only numbers` prints just this);
- latency: `predict` on a 280x280 canvas, preprocessing included (median of --latency-runs);
- real people's pen-written digits (the validation rows of UCI's pen digits, drawn as canvas
  strokes): as curves, as polylines, and as curves at the writer's estimated width-to-height
  ratio: the share read right (verdict "digit", right digit), the best guess right whatever the
  verdict, the share of each verdict, and per digit;
- Omniglot's validation drawings (real people's letters, none a digit): the share called
  "not_a_digit" or "unsure", and the share called a confident digit.
The pen digits and Omniglot lie beside MNIST (digit_knower.data.layout): ../shared/data/pendigits
and ../shared/data/omniglot. The machine may be shared: say how busy it was when quoting the latency.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from digit_knower.data.mnist import load_mnist, load_test
from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import load_pendigits
from digit_knower.reader.classes import softmax
from digit_knower.reader.predictor import Predictor
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training import calibrate
from digit_knower.training import reader_quality as quality
from digit_knower.training.drawings import pen_paths, redraw


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


def numbers(predictor: Predictor, data_dir: Path, count: int) -> None:
    mnist_data = load_mnist(data_dir, download=False)
    print(f"numbers written naturally ({count} per gap, 2-3 digits; found / all right / 'not_a_digit'):")
    for name, digits in (("validation", quality.validation_digits(mnist_data)), ("test", mnist_data.test)):
        figures = []
        for gap in quality.NUMBER_GAPS:
            drawings = quality.number_set(digits, gap, count)
            read = quality.read(predictor, drawings)
            found, right = (
                quality.share(read, ("several_digits",)),
                quality.all_digits_right(read, drawings.labels),
            )
            figures.append(
                f"{gap:+d} px {found:.1%} / {right:.1%} / {quality.share(read, ('not_a_digit',)):.1%}"
            )
        print(f"  {name + ' digits':<18} " + "; ".join(figures))


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


# How the pen paths are drawn: as the file has them, as curves or polylines, and as curves as wide as
# the writer drew them (the file stretched every digit to a square).
PEN_STYLES: dict[str, dict[str, bool]] = {
    "curves": {"curve": True},
    "polylines": {"curve": False},
    "curves, writer's aspect": {"curve": True, "writers_aspect": True},
}


def pen_digits(predictor: Predictor, data_dir: Path) -> None:
    pen = load_pendigits(data_dir, download=False)
    print(
        f"pen-written digits ({len(pen_paths.validation_rows(len(pen.labels)))} validation rows of "
        "pendigits.tra; their writers also wrote the other rows), drawn on the canvas:"
    )
    per_digit = {}
    for style, options in PEN_STYLES.items():
        drawings = quality.pen_digit_set(pen, **options)
        read = quality.read(predictor, drawings)
        shares = quality.verdict_shares(read)
        print(
            f"  {style:<24} {quality.read_right(read, drawings.labels):.2%} read right, "
            f"{quality.accuracy(read, drawings.labels):.2%} best guess right; "
            + ", ".join(f"{shares[verdict]:.2%} {verdict!r}" for verdict in shares)
        )
        per_digit[style] = {
            digit: (
                f"{quality.read_right([read[i] for i in rows], [drawings.labels[i] for i in rows]):.1%} / "
                f"{quality.share([read[i] for i in rows], ('not_a_digit',)):.1%}",
                len(rows),
            )
            for digit, rows in quality.by_digit(drawings.labels).items()
        }
    header = f"  {'per digit: read right / not_a_digit':<38}" + "".join(
        f"{style:<26}" for style in PEN_STYLES
    )
    print(header.rstrip())
    for digit, (_, count) in per_digit["curves"].items():
        figures = "".join(f"{per_digit[style][digit][0]:<26}" for style in PEN_STYLES)
        print((f"    {f'{digit} ({count} rows)':<36}" + figures).rstrip())


def omniglot(predictor: Predictor, data_dir: Path, count: int) -> None:
    drawings = quality.omniglot_set(load_omniglot(data_dir, download=False).valid, count)
    read = quality.read(predictor, drawings)
    shares = quality.verdict_shares(read)
    called = Counter(r.digit for r in read if r is not None and r.verdict == "digit")
    print(
        f"Omniglot validation drawings ({len(drawings)}, real people's letters, none a digit): "
        f"{quality.share(read, ('not_a_digit', 'unsure')):.2%} called 'not_a_digit' or 'unsure'; "
        f"{shares['digit']:.2%} a confident digit"
    )
    print(
        "  "
        + ", ".join(f"{shares[verdict]:.2%} {verdict!r}" for verdict in shares)
        + "; the confident digits: "
        + ", ".join(f"{digit}: {n}" for digit, n in sorted(called.items()))
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
    parser.add_argument("--numbers", type=int, default=500, help="numbers written naturally, per gap")
    parser.add_argument("--only", choices=("numbers",), help="print only this section")
    parser.add_argument("--latency-runs", type=int, default=2000, help="timed predict calls")
    parser.add_argument("--omniglot", type=int, default=1000, help="Omniglot validation drawings")
    args = parser.parse_args()

    predictor = Predictor.from_dir(args.model_dir)
    test = load_test(args.data_dir, download=False)
    print(f"model {predictor.model_version} ({args.model_dir}); thresholds {predictor.thresholds}")
    if args.only == "numbers":
        numbers(predictor, args.data_dir, args.numbers)
        return
    mnist(predictor, args.model_dir, test)
    mouse_style(predictor, test, args.per_polarity)
    edges(predictor, test, args.edges_per_position)
    nondigits(predictor, test, args.nondigits)
    several(predictor, test, args.several)
    numbers(predictor, args.data_dir, args.numbers)
    latency(predictor, test, args.latency_runs)
    pen_digits(predictor, args.data_dir)
    omniglot(predictor, args.data_dir, args.omniglot)


if __name__ == "__main__":
    main()
