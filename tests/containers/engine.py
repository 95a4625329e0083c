"""A real container engine for the container tests: Docker where a daemon answers, else podman.

Podman runs with a configuration of the tests' own (nothing in /etc/containers is read or
changed), made for a machine like the one these tests were written on: Debian's podman 4.3 as
root, no systemd, hybrid cgroups and a sandbox that refuses rlimits. Its images live in a cache
folder that persists between runs, so that images built once are reused while their inputs hold.
Docker Compose v2 reaches podman through `podman system service` on a Unix socket.

podman leaves HEALTHCHECKs to systemd timers; with no systemd, `HealthChecks` runs each running
container's check itself, at the container's own interval, as Docker's daemon would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

# podman's transient state (locks, mounts, the service socket): fixed paths, because podman's
# database remembers them, and under /run, which a reboot empties.
PODMAN_RUN_DIR = Path("/run/digit-knower-containers")
# How long to wait for `podman system service` to answer: it starts in about a second.
SERVICE_START_DEADLINE_S = 60


class NoEngine(Exception):
    """No container engine can be had here; the message says why (the tests skip with it)."""


def cache_dir() -> Path:
    """Where podman keeps the tests' images, and the wheels the images install (kept between runs)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "digit-knower-containers"


@dataclass
class Engine:
    """One container engine's CLI, with the environment it needs; `run` is `docker ARGS` or `podman ARGS`."""

    name: str  # "docker" or "podman"
    cli: str
    env: dict[str, str]
    # DOCKER_HOST for Docker Compose; None: Compose's default (Docker's own socket).
    compose_host: str | None = None
    # Flags every `build` gets (podman: chroot isolation, Docker's image format for HEALTHCHECK).
    build_flags: tuple[str, ...] = ()
    # podman only: folders mounted into a build's RUN steps (Docker's `build` has no such flag).
    can_mount_into_builds: bool = False

    def run(self, *args: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        """`ENGINE ARGS`, output captured as text; a failure names the command and its output."""
        done = subprocess.run([self.cli, *args], env=self.env, input=stdin, capture_output=True)
        result = subprocess.CompletedProcess(
            done.args,
            done.returncode,
            done.stdout.decode(errors="replace"),
            done.stderr.decode(errors="replace"),
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"`{self.name} {' '.join(args)}` exited {result.returncode}:\n{_output(result)}"
            )
        return result

    def build(
        self, context: Path, *, tag: str | None = None, target: str | None = None, args: Sequence[str] = ()
    ) -> subprocess.CompletedProcess:
        """`build` of `context` (its Dockerfile or Containerfile); `args` are extra flags."""
        argv = ["build", *self.build_flags, *args]
        argv += ["--target", target] if target else []
        argv += ["--tag", tag] if tag else []
        return self.run(*argv, str(context))

    def image(self, ref: str) -> dict | None:
        """`image inspect` of `ref`, or None when there is no such image here."""
        result = self.run("image", "inspect", ref, check=False)
        return json.loads(result.stdout)[0] if result.returncode == 0 else None

    def pull(self, ref: str) -> str | None:
        """Pulls `ref`; None when it came, else why not (the engine's last line of error)."""
        result = self.run("pull", ref, check=False)
        if result.returncode == 0:
            return None
        lines = result.stderr.strip().splitlines()
        return lines[-1] if lines else f"exit {result.returncode}"

    def remove_container(self, name: str) -> None:
        """Removes a container at once (no grace period: it is a test's) with its anonymous volumes."""
        self.run(
            "rm",
            "--force",
            "--volumes",
            *(["--time", "0"] if self.name == "podman" else []),
            name,
            check=False,
        )


def _output(result: subprocess.CompletedProcess) -> str:
    return "\n".join(part for part in (result.stdout.strip(), result.stderr.strip()) if part)


@contextmanager
def engine_session() -> Iterator[Engine]:
    """The engine for this test session: Docker if its daemon answers, else podman as root.

    Raises NoEngine when neither can be had. podman's API service and health checks run for as
    long as the `with` block does.
    """
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True).returncode == 0:
        yield Engine("docker", docker, dict(os.environ), compose_host=os.environ.get("DOCKER_HOST"))
        return
    podman = shutil.which("podman")
    if podman is None:
        raise NoEngine(
            "no container engine: no Docker daemon answers and podman is not installed "
            "(./scripts/test installs podman, runc and debootstrap when run as root)"
        )
    if os.geteuid() != 0:
        raise NoEngine(
            "podman is here, but these tests run it as root only (its rootless mode is not set up)"
        )
    engine = podman_engine(podman, cache_dir())
    with api_service(engine), HealthChecks(engine).running():
        yield engine


def podman_engine(podman: str, cache: Path) -> Engine:
    """podman with a configuration of the tests' own: images under `cache`, state under /run."""
    config = cache / "config"
    config.mkdir(parents=True, exist_ok=True)
    PODMAN_RUN_DIR.mkdir(parents=True, exist_ok=True)
    files = {
        "CONTAINERS_CONF": (
            "containers.conf",
            f"""\
[containers]
# The sandbox refuses to set rlimits, and podman sets some by default.
default_ulimits = []
log_driver = "k8s-file"

[engine]
# crun fails on this machine's hybrid cgroups; runc with plain cgroupfs (no systemd) works.
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
# An exec session's conmon waits this long for its exit code to be read (default 300 s: a
# lingering process per `exec` and health check).
exit_command_delay = 10
tmp_dir = "{PODMAN_RUN_DIR / "libpod"}"

[network]
network_config_dir = "{cache / "networks"}"
""",
        ),
        "CONTAINERS_STORAGE_CONF": (
            "storage.conf",
            f"""\
[storage]
driver = "overlay"
graphroot = "{cache / "storage"}"
runroot = "{PODMAN_RUN_DIR / "storage"}"
""",
        ),
        # Short names (postgres:15...) mean Docker Hub's, as they do for Docker and Compose.
        "CONTAINERS_REGISTRIES_CONF": (
            "registries.conf",
            'unqualified-search-registries = ["docker.io"]\nshort-name-mode = "permissive"\n',
        ),
    }
    env = dict(os.environ)
    for variable, (name, text) in files.items():
        (config / name).write_text(text)
        env[variable] = str(config / name)
    # Builds through the API service (`docker compose build`) need chroot isolation too.
    env["BUILDAH_ISOLATION"] = "chroot"
    return Engine(
        "podman",
        podman,
        env,
        build_flags=("--format", "docker", "--isolation", "chroot"),
        can_mount_into_builds=True,
    )


@contextmanager
def api_service(engine: Engine) -> Iterator[None]:
    """`podman system service` on a Unix socket of this session's, for Docker Compose."""
    folder = Path(tempfile.mkdtemp(prefix="dk-podman-"))
    sock = folder / "podman.sock"
    log = folder / "service.log"
    with log.open("wb") as out:
        service = subprocess.Popen(
            [engine.cli, "system", "service", "--time=0", f"unix://{sock}"],
            env=engine.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + SERVICE_START_DEADLINE_S
        while not _answers_ping(sock):
            if service.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"podman system service did not answer on {sock}:\n{log.read_text()}")
            time.sleep(0.2)
        engine.compose_host = f"unix://{sock}"
        yield
    finally:
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        shutil.rmtree(folder, ignore_errors=True)


def _answers_ping(sock: Path) -> bool:
    """GET /_ping over the Unix socket answers OK (the Docker API's liveness call)."""
    try:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(5)
            client.connect(str(sock))
            client.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            return client.recv(4096).endswith(b"OK")
    except OSError:
        return False


@dataclass
class HealthChecks:
    """Runs each running container's HEALTHCHECK at its interval (first after one interval, as
    Docker does), which podman leaves to systemd timers. Docker Compose's `service_healthy` and
    the containers' health status depend on it."""

    engine: Engine
    poll_s: float = 1.0
    _due: dict[str, float] = field(default_factory=dict)
    _intervals: dict[str, float] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)

    @contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._loop, name="podman-healthchecks", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            now = time.monotonic()
            for container in self.engine.run("ps", "--quiet", "--no-trunc", check=False).stdout.split():
                interval = self._interval(container)
                if interval is None:
                    continue
                due = self._due.setdefault(container, now + interval)
                if now >= due:
                    # Its outcome is the container's health status; a failure here is the check's.
                    self.engine.run("healthcheck", "run", container, check=False)
                    self._due[container] = time.monotonic() + interval

    def _interval(self, container: str) -> float | None:
        """The container's health check interval in seconds; None: it has no health check."""
        if container not in self._intervals:
            result = self.engine.run(
                "inspect", "--format", "{{json .Config.Healthcheck}}", container, check=False
            )
            check = json.loads(result.stdout or "null") if result.returncode == 0 else None
            has_check = bool(check and check.get("Test") and check["Test"][0] != "NONE")
            # Docker's default interval is 30 s.
            self._intervals[container] = (check.get("Interval") or 30e9) / 1e9 if has_check else -1
        interval = self._intervals[container]
        return interval if interval > 0 else None
