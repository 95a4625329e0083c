"""LiveModel, the hot swap: a promotion or a rollback in the database changes the model a process
serves without a restart; a missing or corrupt model folder keeps the old model serving. Each on an
SQLite file AND on the real PostgreSQL server."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

import pytest

from digit_knower.reader.predictor import MODEL_FILE
from digit_knower.serving.live_model import LiveModel
from digit_knower.serving.registry import Registry
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.store import Store
from tests.support.api import drawn_one
from tests.support.lifecycle import SHIPPED_CARD, SHIPPED_VERSION, registered_copy

NEW = "dk-20261202-newmodel"
# A deadline for giving up, never a performance assertion (see tests/servers.py).
DEADLINE_S = 120


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(tmp_path / "registry", SHIPPED_MODEL_DIR)


@pytest.fixture
def live(registry: Registry, store: Store) -> LiveModel:
    store.register_model(SHIPPED_CARD)
    return LiveModel(registry, store, refresh_s=3600)  # checks only when a test asks


def test_with_nothing_deployed_the_shipped_model_serves(live: LiveModel) -> None:
    assert live.refresh() is False
    assert live.predictor.model_version == SHIPPED_VERSION
    assert live.status.deployed is None and live.status.problem is None


def test_a_promotion_is_served_at_the_next_check_and_a_rollback_likewise(
    live: LiveModel, registry: Registry, store: Store
) -> None:
    registered_copy(store, registry.root, NEW)
    before = live.predictor

    store.promote(NEW, by="test", reason="better")
    assert live.refresh() is True
    assert live.predictor.model_version == NEW
    assert live.predictor.predict(drawn_one()).model_version == NEW
    assert before.model_version == SHIPPED_VERSION  # a request that held the old one keeps it

    store.rollback(SHIPPED_VERSION, by="test", reason="worse")
    assert live.refresh() is True
    assert live.predictor.model_version == SHIPPED_VERSION
    assert live.refresh() is False  # nothing changed since


def test_a_promoted_model_whose_folder_is_missing_keeps_the_old_model_and_says_why_once(
    live: LiveModel, registry: Registry, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    registered_copy(store, registry.root, NEW)
    store.promote(NEW, by="test", reason="")
    moved = registry.root.parent / "elsewhere"
    shutil.move(registry.root / NEW, moved)

    with caplog.at_level(logging.ERROR, logger="digit_knower.serving.live_model"):
        assert live.refresh() is False
        assert live.refresh() is False
    assert live.predictor.model_version == SHIPPED_VERSION
    assert live.predictor.predict(drawn_one()).digit == 1
    [logged] = [r.getMessage() for r in caplog.records]
    assert logged.startswith(
        f"cannot serve model {NEW}, keeping {SHIPPED_VERSION}: model {NEW} has no folder"
    )
    assert live.status.problem == logged and live.status.deployed == NEW

    shutil.move(moved, registry.root / NEW)  # the shared volume is back: the next check serves it
    assert live.refresh() is True
    assert live.predictor.model_version == NEW and live.status.problem is None


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            lambda folder: (folder / MODEL_FILE).write_bytes(b"not an onnx file"), id="corrupt-onnx"
        ),
        pytest.param(lambda folder: (folder / MODEL_FILE).unlink(), id="onnx-missing"),
        pytest.param(lambda folder: (folder / "model_card.json").write_text("{"), id="corrupt-card"),
        pytest.param(
            lambda folder: (folder / "model_card.json").write_text('{"version": "dk-someone-else"}'),
            id="another-version",
        ),
    ],
)
def test_a_corrupt_model_folder_keeps_the_old_model_serving(
    live: LiveModel, registry: Registry, store: Store, damage, caplog: pytest.LogCaptureFixture
) -> None:
    registered_copy(store, registry.root, NEW)
    damage(registry.root / NEW)
    store.promote(NEW, by="test", reason="")

    with caplog.at_level(logging.ERROR, logger="digit_knower.serving.live_model"):
        assert live.refresh() is False
    assert live.predictor.model_version == SHIPPED_VERSION
    assert live.predictor.predict(drawn_one()).model_version == SHIPPED_VERSION
    assert f"cannot serve model {NEW}, keeping {SHIPPED_VERSION}" in caplog.text


def test_an_unreachable_database_keeps_the_model_serving(registry: Registry, tmp_path: Path) -> None:
    with Store("postgresql+psycopg://dk:pw@127.0.0.1:1/nowhere", outbox_path=tmp_path / "o.sqlite3") as down:
        live = LiveModel(registry, down, refresh_s=3600)
        assert live.refresh() is False
        assert live.predictor.model_version == SHIPPED_VERSION


def test_the_background_check_follows_promotions_without_being_asked(
    registry: Registry, store: Store
) -> None:
    registered_copy(store, registry.root, NEW)
    live = LiveModel(registry, store, refresh_s=0.05).start()
    try:
        store.promote(NEW, by="test", reason="")
        deadline = time.monotonic() + DEADLINE_S
        while live.predictor.model_version != NEW and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live.predictor.model_version == NEW
    finally:
        live.stop()


def test_swaps_while_threads_predict_fail_no_prediction(
    live: LiveModel, registry: Registry, store: Store
) -> None:
    registered_copy(store, registry.root, NEW)
    picture, stop, seen, errors = drawn_one(), threading.Event(), [], []

    def predict_until_stopped() -> None:
        while not stop.is_set():
            try:
                seen.append(live.predictor.predict(picture).model_version)
            except Exception as err:  # surfaced below
                errors.append(err)

    threads = [threading.Thread(target=predict_until_stopped) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(5):
            for deploy, version in ((store.promote, NEW), (store.rollback, SHIPPED_VERSION)):
                deploy(version, by="test", reason="")
                live.refresh()
                served_from = len(seen)  # let the threads predict with each model before swapping on
                deadline = time.monotonic() + DEADLINE_S
                while version not in seen[served_from:] and time.monotonic() < deadline:
                    time.sleep(0.001)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert errors == []
    assert set(seen) == {SHIPPED_VERSION, NEW}
