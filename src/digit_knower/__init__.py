"""Digit Knower: draw a digit, the machine reads it.

    from digit_knower import Predictor, Prediction, EmptyImageError, InvalidImageError

The names are imported on first use, so `import digit_knower` (and `digit-knower --help`)
stays fast and never loads ONNX Runtime until a prediction is wanted.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import TYPE_CHECKING, Any

# ONNX Runtime's native library queues telemetry (a device id, the OS, the CPU, the Python path)
# into ~/.cache/Microsoft/DeveloperTools/ and looks up Microsoft's collector, unless this is set
# before onnxruntime is first imported; disable_telemetry_events() after the import is too late.
# Every reader import passes through this package first. Set it to 0 yourself to opt in.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

if TYPE_CHECKING:
    from digit_knower.reader.picture import EmptyImageError, InvalidImageError
    from digit_knower.reader.predictor import Prediction, Predictor

__all__ = ["EmptyImageError", "InvalidImageError", "Prediction", "Predictor"]

_HOMES = {
    "Predictor": "digit_knower.reader.predictor",
    "Prediction": "digit_knower.reader.predictor",
    "EmptyImageError": "digit_knower.reader.picture",
    "InvalidImageError": "digit_knower.reader.picture",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'digit_knower' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
