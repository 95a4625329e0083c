"""The model registry: a folder holding one complete model folder per version.

    <DIGIT_KNOWER_MODEL_REGISTRY>/
      dk-20261202-1a2b3c4d/     digit_cnn.onnx, digit_cnn.pt, model_card.json
      .incomplete-k3j9/         a retrain still writing (never read, never listed)

Every process that serves or retrains must see the same folder (a shared volume): a version
promoted in the database is loaded from here. A process's own shipped model (its "baseline",
DIGIT_KNOWER_MODEL_DIR) is a version too, found in place; `retrain` also copies it in here, so
that a rollback to it works on a machine whose image ships another model.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from digit_knower.reader.predictor import CARD_FILE, MODEL_FILE, WEIGHTS_FILE, ModelNotFoundError, Predictor

if TYPE_CHECKING:
    from digit_knower.settings import Settings

STAGING_PREFIX = ".incomplete-"
# A version comes from the database and names a folder: nothing that could climb out of the registry.
VERSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class Registry:
    """The registry folder plus this process's baseline (shipped) model folder."""

    def __init__(self, root: Path, baseline_dir: Path) -> None:
        self.root = Path(root).expanduser()
        self.baseline_dir = Path(baseline_dir).expanduser()

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Registry:
        if settings is None:
            from digit_knower.settings import get_settings

            settings = get_settings()
        return cls(settings.model_registry, settings.model_dir)

    @property
    def baseline(self) -> Predictor:
        """This process's shipped model (loaded once per process)."""
        return Predictor.load(self.baseline_dir)

    @property
    def baseline_version(self) -> str:
        return self.baseline.model_version

    def folder(self, version: str) -> Path:
        """Where `version` lies: the baseline folder, or its folder in the registry."""
        if version == self.baseline_version:
            return self.baseline_dir
        return self._in_registry(version)

    def _in_registry(self, version: str) -> Path:
        if not VERSION_NAME.fullmatch(version):
            raise ModelNotFoundError(f"{version!r} is not a model version name")
        return self.root / version

    def load(self, version: str) -> Predictor:
        """A fresh Predictor for `version`; ModelNotFoundError, saying why, when its folder is
        missing, incomplete or corrupt, or holds another version."""
        if version == self.baseline_version:
            return self.baseline
        folder = self.folder(version)
        if not folder.is_dir():
            raise ModelNotFoundError(
                f"model {version} has no folder {folder}: is DIGIT_KNOWER_MODEL_REGISTRY the folder "
                "`retrain` writes to, shared by every process?"
            )
        predictor = Predictor.from_dir(folder)
        if predictor.model_version != version:
            raise ModelNotFoundError(
                f"the folder {folder} holds model {predictor.model_version}, not {version}"
            )
        return predictor

    def staging(self) -> Path:
        """A fresh, hidden folder inside the registry for a model being written."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.root))

    def add(self, staging: Path, version: str) -> Path:
        """Move a finished model folder into place under its version, in one rename: a serving
        process never sees half a model. A version already there (same bytes) stays as it is."""
        target = self._in_registry(version)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / MODEL_FILE).is_file():
                raise
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def keep_baseline(self) -> Path:
        """Copy the baseline model folder into the registry, unless it is there already."""
        target = self._in_registry(self.baseline_version)
        if not (target / MODEL_FILE).is_file():
            staging = self.staging()
            for name in (MODEL_FILE, CARD_FILE, WEIGHTS_FILE):
                if (self.baseline_dir / name).is_file():
                    shutil.copy2(self.baseline_dir / name, staging / name)
            self.add(staging, self.baseline_version)
        return target

    def versions_on_disk(self) -> set[str]:
        """The versions whose folder holds a model file (hidden staging folders excluded)."""
        if not self.root.is_dir():
            return set()
        return {
            p.name for p in self.root.iterdir() if not p.name.startswith(".") and (p / MODEL_FILE).is_file()
        }
