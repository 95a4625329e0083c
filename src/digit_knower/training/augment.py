"""Augmentation: batched on tensors, driven by one seeded generator.

MNIST's pen is one pen. A random stroke thickness (thicker, or thinner and fainter) makes the
marker and the fine pen of the page look familiar after preprocessing, and a random affine warp
(rotation, scale, shear, shift) the ways people hold a digit. The ranges are in `TrainConfig`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from digit_knower.training.config import TrainConfig


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
    changes: tuple[tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]], ...] = (
        (thicken & extra, lambda d: dilate(d, 3)),
        (thicken & ~extra, lambda d: dilate(d, 2)),
        (thin, lambda d: erode(d, 2)),
    )
    for chosen, change in changes:
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
    """The full augmentation of float inputs (N, 1, 28, 28): a random stroke, then a random warp."""
    return random_affine(vary_stroke(x, g, cfg.thicken_p, cfg.thin_p), g, cfg)
