"""Augmentation: strokes thickened and thinned, and random warps, batched and seeded."""

from __future__ import annotations

import torch

from digit_knower.training.augment import augment, dilate, erode
from digit_knower.training.config import TrainConfig


def test_stroke_augmentation_thickens_and_thins() -> None:
    x = torch.zeros(1, 1, 28, 28)
    x[..., 10:18, 12:15] = 1.0  # a 3-pixel-wide bar
    assert dilate(x, 3).sum() > dilate(x, 2).sum() > x.sum() > erode(x, 2).sum() > 0
    assert erode(x, 2)[0, 0, 14].sum() == 2  # the bar is one pixel narrower


def test_augmentation_is_batched_seeded_and_keeps_pixels_in_range() -> None:
    x = torch.rand(64, 1, 28, 28)
    a = augment(x, torch.Generator().manual_seed(3), TrainConfig())
    b = augment(x, torch.Generator().manual_seed(3), TrainConfig())
    assert a.shape == x.shape
    assert torch.equal(a, b)
    assert not torch.equal(a, x)
    assert a.min() >= 0 and a.max() <= 1
