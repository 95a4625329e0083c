"""The Dockerfile's serving targets, built and run for real (`docker build`, `docker run`): each
serves as a non-root user, without torch, and the API image's own layers stay within budget."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest

from tests.containers.engine import Engine
from tests.containers.images import SERVING_TARGETS, AppImages, size_bytes
from tests.containers.stacks import API_KEY, AUTHORISED, session_name, wait_for
from tests.containers.summary import note
from tests.support import servers
from tests.support.api import drawn_one
from tests.support.deploy import DOCKERFILE, parse_dockerfile
from tests.support.postgres_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.containers]

# The budget for what the API image adds to the Python base (decimal megabytes).
API_OWN_LAYERS_BUDGET_BYTES = 300 * 10**6
# The port each image serves on (its EXPOSE and CMD).
PORT_IN_IMAGE = {"api": 8000, "web": 8501}
# The Dockerfile's USER (uid:gid), which every image runs as.
IMAGE_UID = int(
    next(i.args for i in parse_dockerfile(DOCKERFILE.read_text())["runtime"] if i.keyword == "USER").split(
        ":"
    )[0]
)
# Run inside a container: the uid of its main process (the server) and whether torch is importable.
WHO_SERVES = """
import importlib.util, json
uids = next(line.split()[1:] for line in open("/proc/1/status") if line.startswith("Uid:"))
print(json.dumps({"uid": int(uids[0]), "torch": importlib.util.find_spec("torch") is not None}))
"""


@dataclass(frozen=True)
class Container:
    name: str
    url: str  # http://127.0.0.1:PORT, published from the image's port


@contextmanager
def docker_run(engine: Engine, image: str, target: str) -> Iterator[Container]:
    """`docker run -d -p 127.0.0.1:PORT:IMAGE_PORT -e DIGIT_KNOWER_API_KEY=... IMAGE`: the image's own
    command; removed after."""
    name, port = session_name(target), free_port()
    publish = f"127.0.0.1:{port}:{PORT_IN_IMAGE[target]}"
    key = f"DIGIT_KNOWER_API_KEY={API_KEY}"  # the images listen on every address: a key is required
    engine.run("run", "--detach", "--name", name, "--publish", publish, "--env", key, image)
    try:
        yield Container(name, f"http://127.0.0.1:{port}")
    finally:
        engine.remove_container(name)


def serving(engine: Engine, app: AppImages, target: str, ready_path: str) -> Iterator[Container]:
    with docker_run(engine, app.ref(target), target) as container:
        wait_for(
            lambda: servers.answers(f"{container.url}{ready_path}"),
            f"`docker run {app.ref(target)}` answering {ready_path}",
            lambda: engine.run("logs", "--tail", "60", container.name, check=False).stdout,
        )
        yield container


@pytest.fixture(scope="module")
def api_container(engine: Engine, app: AppImages) -> Iterator[Container]:
    yield from serving(engine, app, "api", "/readyz")


@pytest.fixture(scope="module")
def web_container(engine: Engine, app: AppImages) -> Iterator[Container]:
    yield from serving(engine, app, "web", "/_stcore/health")


def test_the_serving_targets_build_and_the_api_image_adds_at_most_300_mb(
    engine: Engine, app: AppImages
) -> None:
    base = size_bytes(engine, app.base.name)
    own = {target: size_bytes(engine, app.ref(target)) - base for target in SERVING_TARGETS}
    for target in SERVING_TARGETS:
        note(
            f"{app.ref(target)}: {(own[target] + base) / 1e6:.0f} MB, of which its own layers "
            f"{own[target] / 1e6:.0f} MB above {app.base.described()} ({base / 1e6:.0f} MB)"
        )
    assert own["api"] <= API_OWN_LAYERS_BUDGET_BYTES, f"the API image adds {own['api'] / 1e6:.0f} MB"


def test_docker_run_of_the_api_image_reads_a_drawn_digit(api_container: Container) -> None:
    files = {"file": ("one.png", drawn_one(), "image/png")}
    response = httpx.post(f"{api_container.url}/v1/predictions", files=files, headers=AUTHORISED, timeout=30)
    assert response.status_code == 201, response.text
    assert response.json()["digit"] == 1


def test_docker_run_of_the_web_image_serves_the_page(web_container: Container) -> None:
    health = httpx.get(f"{web_container.url}/_stcore/health", timeout=30)
    assert (health.status_code, health.text.strip()) == (200, "ok")
    assert httpx.get(f"{web_container.url}/", timeout=30).status_code == 200


@pytest.mark.parametrize("container", ["api_container", "web_container"])
def test_each_image_serves_as_a_non_root_user_without_torch(
    engine: Engine, container: str, request: pytest.FixtureRequest
) -> None:
    name = request.getfixturevalue(container).name
    found = json.loads(engine.run("exec", name, "python", "-c", WHO_SERVES).stdout)
    assert IMAGE_UID != 0
    assert found == {"uid": IMAGE_UID, "torch": False}
