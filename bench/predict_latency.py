"""How fast and how well does the Predictor read a drawing?

Prints, for the model in --model-dir:
- the median latency of `predict` on a 280x280 RGBA canvas, preprocessing included
  (target: at most 1 ms), and of its two halves: preprocessing, and the ONNX model alone;
- `predict_batch` of 256 canvases, in images per second;
- torch eager on the same 28x28 input, in the same run, for comparison (needs torch and
  `digit_knower.training.model`; skipped with a note otherwise);
- accuracy through `predict_batch` on the full MNIST test set (target: at least 99.6%),
  and how often it agrees with the model run on the raw test tensors.

Timings are medians of many runs, each on one thread; on a shared machine they are noisy,
so compare figures from the same run only.

    .venv/bin/python bench/predict_latency.py
    .venv/bin/python bench/predict_latency.py --model-dir model --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from digit_knower import Predictor
from digit_knower.data.mnist import load_test
from digit_knower.reader.preprocess import preprocess
from digit_knower.settings import get_settings

CANVAS = 280


def canvas_of(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A 280x280 RGBA canvas as the web page sends it: black ink only in the alpha channel."""
    size = int(rng.integers(120, 250))
    ink = np.asarray(Image.fromarray(digit).resize((size, size), Image.Resampling.BILINEAR))
    top, left = rng.integers(0, CANVAS - size, size=2)
    rgba = np.zeros((CANVAS, CANVAS, 4), dtype=np.uint8)
    rgba[top : top + size, left : left + size, 3] = ink
    return rgba


def medians_ms(call: Callable[[], object], repeats: int, label: str) -> tuple[float, float]:
    """Median wall-clock and median CPU time of one call, in ms.

    On a shared machine the wall clock also counts the time other processes held the
    core; the thread's CPU time does not, so it is the steadier of the two.
    """
    for _ in range(min(50, repeats)):  # warm caches and ONNX Runtime's first-run setup
        call()
    wall, cpu = [], []
    for _ in tqdm(range(repeats), desc=label, leave=False):
        start_wall, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
        call()
        cpu.append(time.thread_time_ns() - start_cpu)
        wall.append(time.perf_counter_ns() - start_wall)
    return statistics.median(wall) / 1e6, statistics.median(cpu) / 1e6


def report(label: str, call: Callable[[], object], repeats: int, note: str = "") -> None:
    wall, cpu = medians_ms(call, repeats, label.strip())
    print(f"{label:<44} median {wall:6.3f} ms wall, {cpu:6.3f} ms CPU{note}", flush=True)


def torch_eager(model_dir: Path) -> Callable[[np.ndarray], object] | str:
    """A function running the PyTorch model on a (N,1,28,28) float32 batch, or why there is none."""
    try:
        import torch

        from digit_knower.training.model import DigitCNN
    except ImportError as e:
        return f"skipped: torch or digit_knower.training.model is missing ({e})"
    weights = model_dir / "digit_cnn.pt"
    if not weights.exists():
        return f"skipped: no {weights}"
    torch.set_num_threads(1)  # the same single thread as the ONNX Runtime session
    model = DigitCNN()
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()

    def run(batch: np.ndarray) -> object:
        with torch.inference_mode():
            return model(torch.from_numpy(batch))

    return run


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=None, help="default: settings.model_dir")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="MNIST folder; default: settings.data_dir"
    )
    parser.add_argument("--repeats", type=int, default=2000, help="timed calls per latency figure")
    args = parser.parse_args()
    settings = get_settings()
    model_dir = args.model_dir or settings.model_dir
    default_data = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    data_dir = args.data_dir or (default_data if default_data.exists() else settings.data_dir)

    predictor = Predictor.load(model_dir)
    test = load_test(data_dir, download=False)
    rng = np.random.default_rng(0)
    canvases = [canvas_of(test.images[i], rng) for i in rng.choice(len(test.images), 256, replace=False)]
    canvas = canvases[0]
    pixels = preprocess(canvas)[np.newaxis]  # (1, 28, 28) uint8, as the network reads it
    model_input = (pixels.astype(np.float32) / 255)[:, np.newaxis]  # (1, 1, 28, 28), as torch reads it
    network = predictor.network

    print(f"model {predictor.model_version} from {model_dir}; medians of {args.repeats} calls")
    report(
        "predict, 280x280 RGBA canvas, all included",
        lambda: predictor.predict(canvas),
        args.repeats,
        " (target <= 1 ms)",
    )
    report("  preprocessing alone", lambda: preprocess(canvas), args.repeats)
    report(
        "  ONNX Runtime alone, batch 1",
        lambda: network.run(pixels),
        args.repeats,
    )
    eager = torch_eager(model_dir)
    if isinstance(eager, str):
        print(f"  torch eager alone, batch 1: {eager}")
    else:
        report("  torch eager alone, batch 1, same input", lambda: eager(model_input), args.repeats)

    batch_ms, batch_cpu_ms = medians_ms(
        lambda: predictor.predict_batch(canvases), max(5, args.repeats // 200), "batch"
    )
    print(
        f"predict_batch of 256 canvases: median {batch_ms:.1f} ms wall = "
        f"{256 / batch_ms * 1000:,.0f} images/s ({256 / batch_cpu_ms * 1000:,.0f} images/s of CPU time)"
    )

    images = list(test.images)
    start = time.perf_counter()
    digits = np.array([p.digit for p in predictor.predict_batch(images)])
    seconds = time.perf_counter() - start
    logits = network.logits(test.images)
    raw = logits[:, :10].argmax(axis=1)  # the likeliest digit, one pass, no second look
    print(
        f"MNIST test set through predict_batch ({len(images):,} images in {seconds:.1f} s): "
        f"accuracy {np.mean(digits == test.labels):.2%} (target >= 99.65%); "
        f"raw tensors {np.mean(raw == test.labels):.2%}; "
        f"same answer as on the raw tensors for {np.mean(digits == raw):.2%}"
    )


if __name__ == "__main__":
    main()
