"""What running the containers for real taught about the container files, kept true by reading
them (no engine needed): each of these was a bug that no linter saw."""

from __future__ import annotations

import re
import tomllib

from digit_knower.settings import Settings, env_name
from tests.containers.stacks import compose_config
from tests.support.deploy import (
    COMPOSE_FILE,
    DOCKERFILE,
    ENV_EXAMPLE,
    PROXY_FILE,
    REPO_ROOT,
    parse_dockerfile,
)

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
# Where a reader learns to start the stack: each says the same.
INSTRUCTIONS = (COMPOSE_FILE, PROXY_FILE, REPO_ROOT / "README.md", REPO_ROOT / "docs" / "deployment.md")


def test_the_db_health_check_asks_over_tcp_as_the_app_connects() -> None:
    """Over the Unix socket, the entrypoint's temporary first-start server (socket only) passes
    the check, and `migrate` then finds TCP refused (tests/containers/test_compose_stack.py runs it)."""
    check = " ".join(compose_config(COMPOSE_FILE)["services"]["db"]["healthcheck"]["test"])
    assert re.search(r"pg_isready .*-h 127\.0\.0\.1", check), check


def test_the_api_image_is_built_once_and_migrate_runs_it() -> None:
    services = compose_config(COMPOSE_FILE)["services"]
    built = {name: service["image"] for name, service in services.items() if "build" in service}
    assert sorted(built.values()) == sorted(set(built.values())), f"an image built twice: {built}"
    assert [name for name, s in services.items() if s.get("build", {}).get("target") == "api"] == ["api"]
    assert "build" not in services["migrate"]
    assert services["migrate"]["image"] == services["api"]["image"]


def test_the_train_image_takes_torch_as_pytorchs_cpu_build_or_fails() -> None:
    """A bare `torch==X` lets pip take PyPI's CUDA build (GBs) when the CPU index is out of reach."""
    (torch_pin,) = [
        r for r in PYPROJECT["project"]["optional-dependencies"]["train"] if r.startswith("torch==")
    ]
    install = " ".join(
        i.args for i in parse_dockerfile(DOCKERFILE.read_text())["train-env"] if i.keyword == "RUN"
    )
    assert f'"{torch_pin}+cpu"' in install, f"pin {torch_pin}+cpu in the train stage: {install}"
    assert "https://download.pytorch.org/whl/cpu" in install


def test_every_setting_in_env_example_is_read_by_compose_or_the_app() -> None:
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), flags=re.MULTILINE))
    read = {"COMPOSE_FILE"} | {env_name(field) for field in Settings.model_fields}  # Compose's own, the app's
    for file in (COMPOSE_FILE, PROXY_FILE, REPO_ROOT / "deploy" / "Caddyfile"):
        read |= set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", file.read_text()))
    assert documented - read == set(), f"set in .env.example, read by nothing: {documented - read}"


def test_the_instructions_build_the_images_on_up_and_show_migrate_with_ps_all() -> None:
    """After a `git pull`, a plain `up -d` keeps the old images; Compose v2's `ps` lists exited
    containers (migrate, once done) only with -a."""
    for file in INSTRUCTIONS:
        commands = re.findall(r"docker compose (?:-f \S+ )*(up|ps)\b([^#`\n]*)", file.read_text())
        first_up = next(flags for verb, flags in commands if verb == "up")
        assert "--build" in first_up.split(), f"{file.name}: the first `docker compose up` lacks --build"
        for verb, flags in commands:
            assert verb != "ps" or {"-a", "--all"} & set(flags.split()), (
                f"{file.name}: `docker compose ps{flags}`"
            )
