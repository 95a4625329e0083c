"""`build_services`, the one start-up of the page and the API: the shipped model loaded first, the
store opened and migrated, the model registered, the outbox watched by the metrics, and the
deployed version serving from the first request on. A database that is down does not stop it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from digit_knower.reader.predictor import ModelNotFoundError
from digit_knower.serving import metrics
from digit_knower.serving.startup import Services, build_services
from digit_knower.settings import Settings, get_settings
from digit_knower.store import DatabaseConfigError, Store
from tests.support.api import drawn_one
from tests.support.lifecycle import SHIPPED_VERSION, registered_copy
from tests.support.metrics import parse, value
from tests.support.postgres_server import free_port

NEW = "dk-20261202-deployed"


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An embedded SQLite file for DATABASE_URL, and a registry folder of the test's own."""
    database = tmp_path / "digit_knower.sqlite3"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_REGISTRY", str(tmp_path / "registry"))
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_REFRESH_S", "3600")  # checks only at start-up
    get_settings.cache_clear()
    return database


@pytest.fixture
def services(sqlite_file: Path) -> Iterator[Services]:
    built = build_services()
    yield built
    built.close()


def test_the_shipped_model_serves_and_its_answers_are_logged_in_the_configured_database(
    services: Services, sqlite_file: Path
) -> None:
    assert services.predictor.model_version == SHIPPED_VERSION
    assert services.store.url.database == str(sqlite_file)
    assert sqlite_file.exists()  # the embedded database was created and migrated
    assert [m.version for m in services.store.registered_models()] == [SHIPPED_VERSION]


def test_the_version_deployed_before_start_up_serves_from_the_first_request(
    sqlite_file: Path, tmp_path: Path
) -> None:
    settings = Settings()
    with Store(settings.effective_database_url, outbox_path=tmp_path / "setup-outbox.sqlite3") as setup:
        setup.upgrade()
        registered_copy(setup, settings.model_registry, NEW)
        setup.promote(NEW, by="test", reason="deployed earlier")

    services = build_services(settings)
    try:
        assert services.predictor.model_version == NEW
        assert services.predictor.predict(drawn_one()).model_version == NEW
    finally:
        services.close()


def test_a_database_that_is_down_does_not_stop_start_up_and_the_metrics_show_what_waits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing listens on this port: every connection is refused, as when the server is down.
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://dk@127.0.0.1:{free_port()}/dk")
    get_settings.cache_clear()
    metrics.watch_store(None)  # whatever an earlier test left watched
    services = build_services()
    try:
        assert services.predictor.model_version == SHIPPED_VERSION
        readiness = services.readiness()
        assert readiness["ready"] and readiness["degraded"]
        assert not readiness["database_reachable"]
        assert readiness["outbox_backlog"] == 1  # the model's registration waits in the outbox
        samples = parse(generate_latest(metrics.registry()).decode())
        assert ("digit_knower_outbox_backlog", frozenset()) in samples
        assert value(samples, "digit_knower_outbox_backlog") == 1
    finally:
        services.close()


def test_a_model_folder_that_cannot_load_stops_start_up_before_the_database_is_touched(
    sqlite_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_DIR", str(tmp_path / "no-model-here"))
    get_settings.cache_clear()
    with pytest.raises(ModelNotFoundError):
        build_services()
    assert not sqlite_file.exists()


def test_a_database_url_that_cannot_work_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "nosuchdatabase://somewhere/db")
    get_settings.cache_clear()
    with pytest.raises(DatabaseConfigError):
        build_services()
