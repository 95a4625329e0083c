"""Shared fixtures: the data sets, an isolated state folder, and the real databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import ImageFile

from digit_knower.data.download import DataError
from digit_knower.data.layout import set_dir
from digit_knower.store import Store
from tests.support import data as data_lookup
from tests.support import learning_loop as loop
from tests.support.postgres_server import PostgresServer, own_server


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test touches the user's real data folder or an ambient DATABASE_URL."""
    from digit_knower.settings import get_settings

    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("DIGIT_KNOWER_STATE_DIR", str(state))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DIGIT_KNOWER_API_KEY", raising=False)
    get_settings.cache_clear()
    yield state
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data folder with every data set in it (tests/support/data.py says where it is looked
    for), fetched once when a set is missing. Missing data is a failure, never a skip."""
    try:
        return data_lookup.ensure_data_dir()
    except DataError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def mnist_dir(data_dir: Path) -> Path:
    """The folder of the real MNIST files."""
    return set_dir(data_dir, "mnist")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL 15 server for the whole session."""
    with own_server() as server:
        yield server


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of the test's own: stop and start it to make an outage, while the
    shared server stays up for the other tests."""
    with own_server() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database: an SQLite file, then a new database on the real server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return request.getfixturevalue("postgres").create_database()


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL set to a fresh SQLite file, for code that reads the settings (a page, an app)."""
    from digit_knower.settings import get_settings

    url = f"sqlite:///{tmp_path / 'digit_knower.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    """A store on a fresh database (each kind), migrated to the head revision."""
    with Store(database_url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        store.upgrade()
        store.ensure_schema()
        yield store


@pytest.fixture
def decoding_spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Records every picture whose pixels Pillow starts to decode."""
    decoded: list[tuple[int, int]] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile):
        decoded.append(self.size)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return decoded


@pytest.fixture(scope="session")
def learning_loop(
    postgres: PostgresServer, mnist_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> loop.LoopRun:
    """One small run of the whole learning loop, through the real API into the real PostgreSQL:
    200 labelled drawings, `retrain --promote` (its default 300 steps: 150 left the shipped model's
    candidate at 96% of the fresh drawings), 100 fresh drawings before and after. A few minutes,
    once per session; its tests only read what it left."""
    url = postgres.create_migrated_database()
    workdir = tmp_path_factory.mktemp("loop")
    return loop.run(url, workdir, mnist_dir, logged=200, fresh=100)
