"""The digit CNN. Only training imports this module (and torch); serving runs the exported ONNX file.

Three conv blocks (conv -> BatchNorm -> ReLU -> 2x2 max-pool) halve the picture 28 -> 14 -> 7 -> 3 while
widening 32 -> 64 -> 128 channels, then one dropout + linear layer reads the 128x3x3 features.
About 105k parameters and 8M multiply-adds per digit: small enough to train to 99.6%+ in minutes on
two CPU cores (see README, "Training").
"""

from __future__ import annotations

import torch
from torch import nn

# Pixel statistics of the MNIST training set (pixel/255). The network normalises its own input,
# so every caller (ONNX Runtime included) feeds plain pixel/255 and can never forget this step.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

ARCHITECTURE = (
    "DigitCNN: normalise -> conv5x5(32)-BN-ReLU-maxpool -> conv3x3(64)-BN-ReLU-maxpool "
    "-> conv3x3(128)-BN-ReLU-maxpool -> dropout -> linear(1152->10)"
)


def conv_block(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    # No conv bias: the BatchNorm right after it has its own shift.
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class DigitCNN(nn.Module):
    def __init__(self, dropout: float = 0.3) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MNIST_MEAN))
        self.register_buffer("std", torch.tensor(MNIST_STD))
        self.features = nn.Sequential(
            conv_block(1, 32, 5),  # 28 -> 14
            conv_block(32, 64, 3),  # 14 -> 7
            conv_block(64, 128, 3),  # 7 -> 3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(128 * 3 * 3, 10))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: float (N, 1, 28, 28), pixel/255, white ink on black. Returns logits (N, 10)."""
        x = (image - self.mean) / self.std
        return self.classifier(self.features(x))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
