"""`docker compose up -d` of the project's own docker-compose.yml and .env.example (a password
set), with the real Docker Compose v2, on the images the Dockerfile builds: the database, the
migrations, the page and the API, their data kept across `down` and `up`; the proxy file with
two API replicas; and a slow first start of the database, which must not fail the migrations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.containers.engine import Engine
from tests.containers.images import AppImages, Base, qualified
from tests.containers.stacks import AUTHORISED, Stack, compose_config, stack
from tests.containers.summary import note
from tests.support import servers
from tests.support.api import drawn_one
from tests.support.deploy import COMPOSE_FILE, PROXY_FILE
from tests.support.postgres_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.containers]

# Run inside an API container: its /readyz, as JSON.
READYZ = (
    "import urllib.request;"
    "print(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=10).read().decode())"
)
# Sourced by the db image's entrypoint on first start, while its temporary server (Unix socket
# only) is up: long enough for a health check over the socket to call the database ready.
SLOW_INIT_SCRIPT = 'echo "slow init script: sleeping 8 s"\nsleep 8\n'


def published_ports() -> dict[str, str]:
    """Free host ports for the page and the API (WEB_PORT, API_PORT in .env.example)."""
    return {"WEB_PORT": str(free_port()), "API_PORT": str(free_port())}


def readyz(url: str) -> dict:
    response = httpx.get(f"{url}/readyz", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def serving(project: Stack) -> tuple[str, str]:
    """Waits until the page and the API answer on their published ports; their URLs."""
    web, api = (f"http://127.0.0.1:{project.env[port]}" for port in ("WEB_PORT", "API_PORT"))
    project.wait_until(lambda: servers.answers(f"{web}/_stcore/health"), "the page answering /_stcore/health")
    project.wait_until(lambda: servers.answers(f"{api}/readyz"), "the API answering /readyz")
    return web, api


def predict(api: str) -> dict:
    response = httpx.post(
        f"{api}/v1/predictions",
        files={"file": ("one.png", drawn_one(), "image/png")},
        headers=AUTHORISED,
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def stored(project: Stack, prediction_id: str) -> str:
    """The prediction's row in PostgreSQL, as `digit|source` ('' when there is none)."""
    return project.psql(f"SELECT digit, source FROM predictions WHERE id = '{prediction_id}'")


@pytest.fixture(scope="module")
def basic(engine: Engine, app: AppImages, postgres_base: Base) -> Iterator[Stack]:
    """`docker compose up -d` of docker-compose.yml alone, serving."""
    with stack(engine, app, "stack", **published_ports()) as project:
        project.up()
        serving(project)
        yield project


def test_up_makes_the_db_healthy_and_migrate_exit_0(basic: Stack) -> None:
    state = basic.state()
    assert state["db"] == [("running", "healthy", 0)], state
    assert state["migrate"] == [("exited", "", 0)], state


def test_the_page_and_the_api_serve_and_the_api_reaches_the_database(basic: Stack) -> None:
    web, api = serving(basic)
    assert httpx.get(f"{web}/", timeout=30).status_code == 200
    ready = readyz(api)
    assert ready["ready"] and ready["database_reachable"], ready


def test_a_drawn_digit_through_the_api_lands_as_a_row_in_postgresql(basic: Stack) -> None:
    _, api = serving(basic)
    prediction = predict(api)
    assert prediction["digit"] == 1
    basic.wait_until(lambda: stored(basic, prediction["id"]) == "1|api", "the prediction's row in PostgreSQL")


def test_the_rows_outlive_down_and_up(basic: Stack) -> None:
    _, api = serving(basic)
    prediction = predict(api)
    basic.wait_until(lambda: stored(basic, prediction["id"]) == "1|api", "the prediction's row in PostgreSQL")
    basic("down")  # volumes kept
    assert basic.containers() == []
    basic.up()
    serving(basic)
    assert stored(basic, prediction["id"]) == "1|api"


def proxy_override(tmp_path: Path) -> Path:
    """Keeps the proxy on this machine: published on 127.0.0.1 only, for names Caddy certifies
    itself (no Let's Encrypt)."""
    override = tmp_path / "local-proxy.yml"
    override.write_text(
        "services:\n"
        "  proxy:\n"
        '    ports: !override ["127.0.0.1::80", "127.0.0.1::443"]\n'
        "    environment:\n"
        "      DIGIT_KNOWER_DOMAIN: localhost\n"
        "      DIGIT_KNOWER_API_DOMAIN: api.localhost\n"
    )
    return override


@pytest.fixture(scope="module")
def behind_the_proxy(
    engine: Engine, app: AppImages, postgres_base: Base, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """docker-compose.yml with deploy/compose.proxy.yml, `up -d --scale api=2`. The proxy itself
    is left out where its image cannot be had (here: no registry)."""
    proxy_image = compose_config(COMPOSE_FILE, PROXY_FILE)["services"]["proxy"]["image"]
    why = None if engine.image(qualified(proxy_image)) else engine.pull(qualified(proxy_image))
    files = [PROXY_FILE]
    services: list[str] = []
    if why is None:
        files.append(proxy_override(tmp_path_factory.mktemp("proxy")))
    else:
        services = ["db", "migrate", "web", "api"]
        note(f"the proxy ({proxy_image}) is left out: its image could not be pulled ({why})")
    with stack(engine, app, "proxy", *files) as project:
        project.up("--scale", "api=2", *services)
        project.wait_until(
            lambda: project.state().get("api") == [("running", "healthy", 0)] * 2, "two healthy API replicas"
        )
        yield project


def test_behind_the_proxy_two_healthy_api_replicas_reach_the_database(behind_the_proxy: Stack) -> None:
    for index in ("1", "2"):
        out = behind_the_proxy("exec", "-T", "--index", index, "api", "python", "-c", READYZ).stdout
        ready = json.loads(out)
        assert ready["ready"] and ready["database_reachable"], f"api replica {index}: {ready}"
    if "proxy" in behind_the_proxy.state():
        assert behind_the_proxy.state()["proxy"] == [("running", "", 0)]


def test_a_slow_first_start_of_the_database_does_not_fail_migrate(
    engine: Engine, app: AppImages, postgres_base: Base, tmp_path: Path
) -> None:
    """On first start, the db image runs its init scripts under a temporary server on the Unix
    socket only; the health check must not call that ready, or `migrate` finds TCP refused."""
    script = tmp_path / "slow-init.sh"
    script.write_text(SLOW_INIT_SCRIPT)
    override = tmp_path / "slow-init.yml"
    mount = f"{script}:/docker-entrypoint-initdb.d/slow-init.sh:ro"
    override.write_text(yaml.safe_dump({"services": {"db": {"volumes": [mount]}}}))
    with stack(engine, app, "race", override, **published_ports()) as project:
        project.up()  # fails, with the logs, when migrate does
        assert "slow init script: sleeping 8 s" in project("logs", "--no-color", "db").stdout
        assert project.state()["migrate"] == [("exited", "", 0)]
        serving(project)
