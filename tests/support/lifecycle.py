"""Model folders for the lifecycle tests.

`registered_copy` puts the shipped network into a registry under another version name: a real,
loadable model folder. The swap tests are about which version serves and is logged, not about
what it reads, so the same weights under a new name are all they need (the learning-loop test
makes a truly retrained model).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from digit_knower.reader.predictor import CARD_FILE, MODEL_FILE
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.store import Store

SHIPPED_CARD: dict[str, Any] = json.loads((SHIPPED_MODEL_DIR / CARD_FILE).read_text())
SHIPPED_VERSION: str = SHIPPED_CARD["version"]


def copy_of_shipped(registry: Path, version: str) -> dict[str, Any]:
    """The shipped model's ONNX file in `registry/version`, with its card renamed; returns the card."""
    folder = registry / version
    folder.mkdir(parents=True)
    shutil.copy2(SHIPPED_MODEL_DIR / MODEL_FILE, folder / MODEL_FILE)
    card = {**SHIPPED_CARD, "version": version}
    (folder / CARD_FILE).write_text(json.dumps(card))
    return card


def registered_copy(store: Store, registry: Path, version: str) -> dict[str, Any]:
    """`copy_of_shipped`, registered in the store (only a registered model can be promoted)."""
    card = copy_of_shipped(registry, version)
    store.register_model(card)
    return card
