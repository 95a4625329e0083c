"""Digit Knower's servers as real subprocesses, for the tests and the benches: the one way to start them.

    with servers.api(env, log, workers=2) as server:      # `digit-knower api`
        httpx.get(f"{server.url}/healthz")
    with servers.page(env, log) as server:                # `digit-knower serve`
        ...
    with servers.running(argv, env=env, log=log, url=url, ready=check) as server:   # any command

Each server runs in a process group of its own, so that stopping it stops its uvicorn workers
too, whatever happens inside the `with` block. Its output goes to a log file, whose tail is in
every error, and in any failure inside the `with` block. A server that exits or never becomes ready
raises `ServerFailed`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres_server import free_port

# A server that has not answered after this long is broken, not slow: it is a deadline for
# giving up with the server's log, never a performance assertion.
STARTUP_DEADLINE_S = 240
STOP_GRACE_S = 30


class ServerFailed(RuntimeError):
    """The server exited, or did not become ready before the deadline; the message holds its log."""


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def digit_knower_command(bin_dir: Path | None = None) -> str:
    """The `digit-knower` console script: in `bin_dir`, else beside this interpreter, else on PATH."""
    beside = (bin_dir or Path(sys.executable).parent) / "digit-knower"
    found = str(beside) if beside.exists() else shutil.which("digit-knower")
    if found is None:
        raise RuntimeError("The `digit-knower` console script is not installed: pip install -e .")
    return found


@contextlib.contextmanager
def running(
    argv: list[str],
    *,
    env: dict[str, str],
    log: Path,
    url: str,
    ready: Callable[[Server], bool],
    what: str | None = None,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Run `argv` (with exactly `env`) until the block ends; yield once `ready(server)` is true."""
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(url, port, process, log)
    try:
        wait_until(lambda: ready(server), server, what or " ".join(Path(a).name for a in argv[:2]))
        try:
            yield server
        except Exception as error:  # a failure inside the block: what the server said belongs in it
            error.add_note(f"the server's log ({log.name}), last lines:\n{server.tail()}")
            raise
    finally:
        stop(process)


def wait_until(check: Callable[[], bool], server: Server, what: str) -> None:
    """Poll `check` until it passes; ServerFailed, with the log, if the server dies or never answers."""
    started = time.monotonic()
    while not check():
        if server.process.poll() is not None:
            raise ServerFailed(f"{what} exited with {server.process.returncode}:\n{server.tail()}")
        if time.monotonic() - started > STARTUP_DEADLINE_S:
            raise ServerFailed(f"{what} did not become ready in {STARTUP_DEADLINE_S} s:\n{server.tail()}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group (a graceful shutdown), SIGKILL if it does not end in time."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def answers(url: str, body: bytes | None = None) -> bool:
    """True when GET `url` answers 200 (and, if given, exactly `body`, ignoring whitespace)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200 and (body is None or response.read().strip() == body)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _base_env(env: dict[str, str] | None) -> dict[str, str]:
    return {**os.environ, **(env or {})}


def api(
    env: dict[str, str] | None,
    log: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    args: tuple[str, ...] = (),
    bin_dir: Path | None = None,
) -> contextlib.AbstractContextManager[Server]:
    """`digit-knower api` on 127.0.0.1, ready once EVERY worker has started and /healthz answers.

    (A worker still loading would leave all of a client's keep-alive connections to the others.)
    `env` is added to this process's environment.
    """
    port = port or free_port()
    argv = [digit_knower_command(bin_dir), "api", "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--workers", str(workers), *args]
    url = f"http://127.0.0.1:{port}"

    def ready(server: Server) -> bool:
        started = server.log_text().count("Application startup complete")
        return started >= workers and answers(f"{url}/healthz")

    return running(argv, env=_base_env(env), log=log, url=url, ready=ready, what="digit-knower api")


def page(
    env: dict[str, str] | None,
    log: Path,
    *,
    port: int | None = None,
    args: tuple[str, ...] = (),
    bin_dir: Path | None = None,
) -> contextlib.AbstractContextManager[Server]:
    """`digit-knower serve` (the Streamlit page) on 127.0.0.1, ready once its health check says ok.

    Its metrics go to a free port too (unless `env` names one), so that pages can run side by side.
    """
    port = port or free_port()
    argv = [digit_knower_command(bin_dir), "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    return running(
        argv,
        env={"DIGIT_KNOWER_WEB_METRICS_PORT": str(free_port()), **_base_env(env)},
        log=log,
        url=url,
        ready=lambda _server: answers(f"{url}/_stcore/health", b"ok"),
        what="digit-knower serve",
    )
