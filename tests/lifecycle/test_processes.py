"""A promotion and a rollback made by one process (`digit-knower models ...`) reach the others (the
workers of a running `digit-knower api`) without a restart, on an SQLite file AND on the real
PostgreSQL server. Each worker checks every REFRESH_S seconds; the delay is printed."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from digit_knower.store import Store
from tests.support import servers
from tests.support.api import drawn_one
from tests.support.lifecycle import SHIPPED_VERSION, registered_copy

NEW = "dk-20261202-promoted"
REFRESH_S = 1
WORKERS = 2
DEADLINE_S = 120  # for giving up with the server's log, never a performance assertion


def models(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [servers.digit_knower_command(), "models", *args]
    return subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True)


def served_version(server: servers.Server) -> str:
    return httpx.get(f"{server.url}/v1/model").json()["version"]


def wait_for_swaps(server: servers.Server, line: str, count: int, started: float) -> float:
    """Seconds from `started` (time.monotonic()) until the log holds `line` `count` times."""
    while server.log_text().count(line) < count:
        assert time.monotonic() - started < DEADLINE_S, f"not {count} times {line!r}:\n{server.tail()}"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """A migrated database (SQLite, then PostgreSQL) where NEW is registered, and the registry
    holding it."""
    registry = tmp_path / "registry"
    with Store(database_url, outbox_path=tmp_path / "setup-outbox.sqlite3") as store:
        store.upgrade()
        registered_copy(store, registry, NEW)
    return {
        "DATABASE_URL": database_url,
        "DIGIT_KNOWER_MODEL_REGISTRY": str(registry),
        "DIGIT_KNOWER_MODEL_REFRESH_S": str(REFRESH_S),
    }


def test_a_running_api_follows_a_promotion_and_a_rollback_without_a_restart(
    env: dict[str, str], tmp_path: Path
) -> None:
    promoted_line, rolled_back_line = (
        f"now serving model {NEW} (was",
        f"now serving model {SHIPPED_VERSION} (was",
    )
    with servers.api(env, tmp_path / "api.log", workers=WORKERS) as api:
        assert {served_version(api) for _ in range(4)} == {SHIPPED_VERSION}

        started = time.monotonic()
        promoted = models("promote", NEW, "--reason", "a test", "--by", "tester", env=env)
        assert promoted.returncode == 0, promoted.stderr
        assert f"{NEW} now serves (was {SHIPPED_VERSION})" in promoted.stdout
        took = wait_for_swaps(api, promoted_line, WORKERS, started)
        print(f"\npromotion served by every worker {took:.2f} s after `models promote` started")
        assert {served_version(api) for _ in range(4)} == {NEW}
        created = httpx.post(f"{api.url}/v1/predictions", files={"file": ("d.png", drawn_one(), "image/png")})
        assert created.json()["model_version"] == NEW
        logged = httpx.get(f"{api.url}/v1/predictions/{created.json()['id']}").json()
        assert logged["model_version"] == NEW

        started = time.monotonic()
        rolled = models("rollback", "--reason", "back", env=env)
        assert rolled.returncode == 0, rolled.stderr
        assert f"{SHIPPED_VERSION} serves again (was {NEW})" in rolled.stdout
        took = wait_for_swaps(api, rolled_back_line, WORKERS, started)
        print(f"rollback served by every worker {took:.2f} s after `models rollback` started")
        assert {served_version(api) for _ in range(4)} == {SHIPPED_VERSION}
        # One swap each way in each worker, and none in any other process (e.g. a start-up check).
        assert (api.log_text().count(promoted_line), api.log_text().count(rolled_back_line)) == (
            WORKERS,
            WORKERS,
        )

    listed = models("list", env=env)
    assert listed.returncode == 0, listed.stderr
    [serving_line] = [line for line in listed.stdout.splitlines() if line.startswith("*  ")]
    assert SHIPPED_VERSION in serving_line
    assert "by rollback at" in listed.stdout and "back" in listed.stdout


def test_promoting_a_model_whose_folder_cannot_load_is_refused_with_the_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    (Path(env["DIGIT_KNOWER_MODEL_REGISTRY"]) / NEW / "digit_cnn.onnx").write_bytes(b"truncated")
    with Store(env["DATABASE_URL"], outbox_path=tmp_path / "outbox.sqlite3") as store:
        refused = models("promote", NEW, env=env)
        assert refused.returncode == 1
        assert refused.stderr.startswith("error: ") and "is not a loadable ONNX model" in refused.stderr
        assert "Traceback" not in refused.stderr

        unknown = models("promote", "dk-never-trained", env=env)
        assert unknown.returncode == 1
        assert "no registered model has the version 'dk-never-trained'" in unknown.stderr
        assert store.serving_version() is None
