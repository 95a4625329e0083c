"""How well does a model read digits drawn with a thin pen or a thick marker?

Each MNIST digit is re-drawn on a 280x280 canvas the way a person would draw it in the app: the
digit is upscaled, reduced to its skeleton, and the skeleton is traced again with a round brush,
thin (2 px) or thick (up to 40 px). The canvas then goes through the product's own MNIST-style preprocessing
(digit_knower.reader.preprocess: crop to the ink, fit 20x20, centre of mass) and the model.

Used to check the stroke-thickness augmentation on the validation split (the default), and to
measure the shipped model on the test split. Needs scikit-image for the skeleton.

    .venv/bin/python bench/stroke_robustness.py --model-dir model --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage
from skimage.morphology import disk, skeletonize

from digit_knower.data.mnist import load_mnist
from digit_knower.reader.predictor import MODEL_FILE, Network
from digit_knower.reader.preprocess import preprocess
from digit_knower.settings import SHIPPED_MODEL_DIR

CANVAS = 280


def redraw(digit: np.ndarray, brush_px: int) -> np.ndarray:
    """The digit's skeleton traced on a 280x280 canvas with a round brush of the given width."""
    big = np.asarray(Image.fromarray(digit).resize((CANVAS, CANVAS), Image.BILINEAR)) > 100
    skeleton = skeletonize(big)
    radius = max(brush_px // 2, 1)
    return (ndimage.binary_dilation(skeleton, structure=disk(radius)) * 255).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, nargs="+", default=[SHIPPED_MODEL_DIR])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/mnist"))
    parser.add_argument("--split", choices=["val", "test"], default="val")
    parser.add_argument("--count", type=int, default=2000, help="digits to re-draw")
    args = parser.parse_args()

    mnist = load_mnist(args.data_dir)
    if args.split == "test":
        images, labels = mnist.test.images[: args.count], mnist.test.labels[: args.count]
    else:
        # The same held-out validation split that training uses (seed 0, first 5000 of the permutation).
        import torch

        order = torch.randperm(60_000, generator=torch.Generator().manual_seed(0))[:5000].numpy()
        images, labels = mnist.train.images[order][: args.count], mnist.train.labels[order][: args.count]

    variants = {"as in MNIST": images}
    for name, brush in [("thin 2px", 2), ("medium 16px", 16), ("thick 40px", 40)]:
        variants[name] = np.stack([preprocess(redraw(d, brush)) for d in images])
    print(f"{len(labels)} {args.split} digits; accuracy after re-drawing:")
    print(f"{'model':<40}" + "".join(f"{name:>14}" for name in variants))
    for model_dir in args.model_dir:
        accs = [
            (Network.open(model_dir / MODEL_FILE, threads=0).logits(x)[:, :10].argmax(1) == labels).mean()
            for x in variants.values()
        ]
        print(f"{model_dir!s:<40}" + "".join(f"{a:>14.2%}" for a in accs))


if __name__ == "__main__":
    main()
