"""Which views the second look should take: accuracy on the validation split for each choice.

    .venv/bin/python bench/second_look_views.py [--model-dir model] [--data-dir ../shared/data/mnist]

The second look (`digit_knower.reader.second_look`) reads an undecided input again, shifted one pixel
each way, and averages the readings. This bench tries other views beside the shifts: the strokes
eroded or dilated by a pixel (a loop that a fat brush filled, a pen line too thin), the digit
zoomed 10% in and out, and turned 10 degrees each way. Each choice is scored as the reader would
use it (only the undecided inputs are read again), on the MNIST validation digits and their
mouse-style redrawings: training's own split, held out of training, read from the drawing cache.
Never on a test set. Prints figures; asserts nothing. Needs the `train` extra (torch).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from digit_knower.data.mnist import load_mnist
from digit_knower.reader import second_look
from digit_knower.reader.predictor import Network
from digit_knower.settings import SHIPPED_MODEL_DIR, get_settings
from digit_knower.training.augment import dilate, erode
from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import prepare_data

REPO = Path(__file__).resolve().parents[1]


def warped(inputs: np.ndarray, zoom: float = 1.0, degrees: float = 0.0) -> np.ndarray:
    """(N, 28, 28) uint8 inputs zoomed by `zoom` and turned by `degrees` about their centre."""
    x = torch.from_numpy(inputs).float().unsqueeze(1)
    angle = math.radians(degrees)
    cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
    theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]]).expand(len(x), 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, align_corners=False).squeeze(1).round().clamp(0, 255).byte().numpy()


def morphed(inputs: np.ndarray, change) -> np.ndarray:
    x = torch.from_numpy(inputs).float().unsqueeze(1)
    return change(x, 2).squeeze(1).clamp(0, 255).byte().numpy()


# Each candidate: the views it adds to the shifts, of the inputs read again.
EXTRA_VIEWS: dict[str, Callable[[np.ndarray], list[np.ndarray]]] = {
    "eroded": lambda x: [morphed(x, erode)],
    "dilated": lambda x: [morphed(x, dilate)],
    "zoomed 10% in and out": lambda x: [warped(x, zoom=1.1), warped(x, zoom=0.9)],
    "turned 10 degrees each way": lambda x: [warped(x, degrees=10), warped(x, degrees=-10)],
}


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((logits[:, :10].argmax(1) == labels).mean())


def compare(name: str, onnx: Path, inputs: np.ndarray, labels: np.ndarray) -> None:
    def run(views: np.ndarray) -> np.ndarray:
        return Network.open(onnx, threads=0).logits(views)

    first = run(inputs)
    print(f"{name} ({len(labels):,}; {second_look.undecided(first).mean():.1%} undecided, read again):")
    print(f"  first look only: {accuracy(first, labels):.2%}")
    served = second_look.with_second_look(first, inputs, run)
    print(f"  shifted one pixel each way (as served): {accuracy(served, labels):.2%}")
    for view, extra in EXTRA_VIEWS.items():

        def shifts_and_extra(again: np.ndarray, extra=extra) -> np.ndarray:
            return np.concatenate([second_look.shifted(again), *extra(again)])

        looked = second_look.with_second_look(first, inputs, run, views=shifts_and_extra)
        print(f"  the shifts and {view}: {accuracy(looked, labels):.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=SHIPPED_MODEL_DIR)
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    args = parser.parse_args()
    # MNIST's validation digits and their redrawings are all this reads: no real hands needed.
    mnist_only = TrainConfig(pen_share=0.0, omniglot_share=0.0)
    data = prepare_data(load_mnist(args.data_dir), mnist_only, get_settings().cache_dir)
    onnx = args.model_dir / "digit_cnn.onnx"
    for name, source in (("MNIST validation digits", "mnist"), ("their mouse-style redrawings", "redrawn")):
        part = data.val[source]
        compare(name, onnx, part.images.numpy(), part.labels.numpy())


if __name__ == "__main__":
    main()
