"""The container tests' engine and images, made once per session; what they found (stand-ins,
reused images, sizes) is printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.containers import images as image_builds
from tests.containers import summary
from tests.containers.engine import Engine, NoEngine, engine_session
from tests.containers.images import AppImages, Base
from tests.containers.stacks import remove_leftovers
from tests.containers.summary import note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if summary.LINES:
        terminalreporter.write_sep("-", "containers")
        for line in summary.LINES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    """Docker, else podman as root; the tests skip, saying why, where neither can be had."""
    try:
        with engine_session() as found:
            note(f"engine: {found.name} ({found.cli})")
            removed = remove_leftovers(found, found.compose_host)
            if removed:
                note(f"removed what interrupted sessions left: {', '.join(removed)}")
            yield found
    except NoEngine as why:
        pytest.skip(str(why))


@pytest.fixture(scope="session")
def python_base(engine: Engine) -> Base:
    return image_builds.public_image(engine, image_builds.python_base(), "python", note)


@pytest.fixture(scope="session")
def postgres_base(engine: Engine) -> Base:
    return image_builds.public_image(engine, image_builds.postgres_image(), "postgres", note)


@pytest.fixture(scope="session")
def app(engine: Engine, python_base: Base) -> AppImages:
    """The Dockerfile's api and web targets, built from this checkout (or found, built earlier)."""
    return image_builds.app_images(engine, python_base, note)
