"""The digit CNN. Only training imports this module (and torch); serving runs the exported ONNX file.

Three conv blocks (conv -> 2x2 max-pool -> BatchNorm -> ReLU) halve the picture 28 -> 14 -> 7 -> 3
while widening the channels, then one dropout + linear layer reads the features. Eleven outputs:
the ten digits and "not a digit" (see `reader.classes` and `drawings.nondigits`). The logits leave
divided by a temperature, fitted after training on the validation split, so that a softmax gives
calibrated probabilities (temperature scaling, Guo et al. 2017); it is 1 while training, and
travels inside the ONNX graph.
"""

from __future__ import annotations

import torch
from torch import nn

from digit_knower.reader.classes import CLASSES

# Pixel statistics of the MNIST training set (pixel/255). The network normalises its own input,
# so every caller (ONNX Runtime included) feeds plain pixel/255 and can never forget this step.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081

WIDTHS = (64, 128, 256)  # as `TrainConfig.widths`: the shipped recipe


def conv_block(in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    # No conv bias: the BatchNorm after it has its own shift. The pool comes before BatchNorm and
    # ReLU, so that they work on a quarter of the values: at 28x28 they cost more than the
    # convolution, and a training step took 0.45 ms per picture instead of 0.55 ms
    # (bench/train_step.py).
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def architecture(widths: tuple[int, int, int] = WIDTHS, classes: int = CLASSES) -> str:
    """The network in one line, for the model card."""
    a, b, c = widths
    return (
        f"DigitCNN: normalise -> conv5x5({a})-maxpool-BN-ReLU -> conv3x3({b})-maxpool-BN-ReLU "
        f"-> conv3x3({c})-maxpool-BN-ReLU -> dropout -> linear({c * 9}->{classes}) -> /temperature"
    )


class DigitCNN(nn.Module):
    # Buffers, registered in __init__ (declared here: nn.Module's attribute lookup says "Tensor | Module").
    mean: torch.Tensor
    std: torch.Tensor
    temperature: torch.Tensor

    def __init__(
        self, dropout: float = 0.3, widths: tuple[int, int, int] = WIDTHS, classes: int = CLASSES
    ) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(MNIST_MEAN))
        self.register_buffer("std", torch.tensor(MNIST_STD))
        self.register_buffer("temperature", torch.tensor(1.0))
        a, b, c = widths
        self.features = nn.Sequential(
            conv_block(1, a, 5),  # 28 -> 14
            conv_block(a, b, 3),  # 14 -> 7
            conv_block(b, c, 3),  # 7 -> 3
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c * 3 * 3, classes))
        # Channels-last weights make oneDNN's convolutions keep their activations in that layout:
        # a training step took 0.45 ms per picture against 0.71 ms (bench/train_step.py). The
        # layout is torch's alone: the ONNX graph and the state_dict are the same either way.
        self.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's overloads omit it

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """image: float (N, 1, 28, 28), pixel/255, white ink on black. Returns logits (N, classes)."""
        x = (image - self.mean) / self.std
        return self.classifier(self.features(x)) / self.temperature


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 1, 28, 28) pixel/255, the model's input."""
    return images.unsqueeze(1).float().div_(255)


@torch.no_grad()
def predict_logits(model: DigitCNN, images: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
    """The model's logits (N, classes) for uint8 inputs (N, 28, 28), in eval mode, batch by batch."""
    # Batches of 250 ran at 0.32 ms a picture, of 1,000 at 0.38 ms (bench/train_step.py).
    model.eval()
    return torch.cat([model(to_float(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])
