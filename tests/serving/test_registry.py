"""The registry folder: where a version lies, how a model folder gets in, and what is never read."""

from __future__ import annotations

from pathlib import Path

import pytest

from digit_knower.reader.predictor import MODEL_FILE, ModelNotFoundError
from digit_knower.serving.registry import Registry
from digit_knower.settings import SHIPPED_MODEL_DIR
from tests.support.lifecycle import SHIPPED_VERSION, copy_of_shipped


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry", SHIPPED_MODEL_DIR)


def test_the_shipped_model_is_a_version_found_in_place(registry: Registry) -> None:
    assert registry.baseline_version == SHIPPED_VERSION
    assert registry.folder(SHIPPED_VERSION) == SHIPPED_MODEL_DIR
    assert registry.load(SHIPPED_VERSION) is registry.baseline


def test_keep_baseline_copies_the_shipped_model_into_the_registry_once(
    registry: Registry, tmp_path: Path
) -> None:
    kept = registry.keep_baseline()
    assert kept == registry.root / SHIPPED_VERSION
    assert (kept / MODEL_FILE).read_bytes() == (SHIPPED_MODEL_DIR / MODEL_FILE).read_bytes()
    assert registry.versions_on_disk() == {SHIPPED_VERSION}
    stamp = (kept / MODEL_FILE).stat().st_mtime_ns
    registry.keep_baseline()
    assert (kept / MODEL_FILE).stat().st_mtime_ns == stamp

    # Another machine, whose image ships a newer model, still finds this one for a rollback.
    copy_of_shipped(tmp_path / "image", "dk-newer-shipped")
    elsewhere = Registry(registry.root, tmp_path / "image" / "dk-newer-shipped")
    assert elsewhere.folder(SHIPPED_VERSION) == kept
    assert elsewhere.load(SHIPPED_VERSION).model_version == SHIPPED_VERSION


def test_a_finished_folder_moves_in_whole_and_a_second_copy_of_a_version_is_dropped(
    registry: Registry, tmp_path: Path
) -> None:
    copy_of_shipped(tmp_path / "written", "dk-a")
    target = registry.add(tmp_path / "written" / "dk-a", "dk-a")
    assert target == registry.root / "dk-a"
    assert registry.load("dk-a").model_version == "dk-a"

    again = registry.staging()
    (again / MODEL_FILE).write_bytes(b"other bytes")
    assert registry.add(again, "dk-a") == target
    assert not again.exists()
    assert (target / MODEL_FILE).read_bytes() == (SHIPPED_MODEL_DIR / MODEL_FILE).read_bytes()


def test_folders_being_written_are_never_listed(registry: Registry) -> None:
    staging = registry.staging()
    (staging / MODEL_FILE).write_bytes(b"half")
    assert staging.name.startswith(".incomplete-")
    assert registry.versions_on_disk() == set()


@pytest.mark.parametrize("name", ["../etc", "a/b", ".hidden", "", "x" * 65])
def test_a_version_name_cannot_point_outside_the_registry(registry: Registry, name: str) -> None:
    with pytest.raises(ModelNotFoundError, match="is not a model version name"):
        registry.load(name)
