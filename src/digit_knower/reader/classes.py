"""What the network's outputs mean: the ten digits, then "not a digit"; and the softmax that reads them.

The one place these numbers live. The network is built with CLASSES outputs, training labels a
drawing that is no digit NOT_A_DIGIT, and the reader, the second look and calibration read the
first DIGITS outputs as the digits 0-9. A model made before the eleventh class has DIGITS outputs
only, which the reader still reads (it can then never say "not a digit").

numpy only.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import NDArray

DIGITS: Final = 10  # outputs 0-9 are the digits 0-9
NOT_A_DIGIT: Final = 10  # the eleventh output, and training's label for a drawing that is no digit
CLASSES: Final = DIGITS + 1


def softmax(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    """Row-wise, in float64, each row's maximum subtracted first: rows sum to 1 to within 1e-15,
    and no logit can overflow."""
    z = logits.astype(np.float64)
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)
