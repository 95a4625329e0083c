"""One run of the whole learning loop, through the real API into a real PostgreSQL, shared by the
loop's tests and the page's Models view test (the `learning_loop` fixture in conftest.py), and by
bench/learning_loop.py at full size.

    1. log labelled drawings of the simulated user (seven-segment digits) through POST/PUT;
    2. read fresh drawings of the same user: the model before;
    3. `digit-knower retrain --promote` as a separate process;
    4. wait until the running API serves the new version, and read the fresh drawings again.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from digit_knower.store.records import READ_AS_ONE_DIGIT
from tests.support import servers
from tests.support.seven_segment import balanced_labels, canvas_png, seven_segment_drawings

LOGGED_SEED, FRESH_SEED = 11, 12
LOOP_ADMIN_KEY = "learning-loop-admin-key"
DEADLINE_S = 240  # for giving up, with the server's log; never a performance assertion


@dataclass
class Readings:
    """What the API answered for a set of drawings."""

    labels: np.ndarray
    digits: list[int]
    versions: list[str]
    ids: list[str] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)

    @property
    def read_as_one_digit(self) -> np.ndarray:
        """Which drawings were read as one digit ("digit" or "unsure"): those the live statistics count."""
        return np.array([verdict in READ_AS_ONE_DIGIT for verdict in self.verdicts], dtype=bool)

    @property
    def accuracy(self) -> float:
        """The share the user got the right answer for: their digit, read as one digit (a drawing
        turned away as no digit was not read, whatever the best guess behind it)."""
        return float(np.mean(self.read_as_one_digit & (np.array(self.digits) == self.labels)))

    @property
    def live_accuracy(self) -> float:
        """The accuracy the live statistics show: over the drawings read as one digit only."""
        right = np.array(self.digits) == self.labels
        return float(np.mean(right[self.read_as_one_digit]))


@dataclass
class LoopRun:
    database_url: str
    env: dict[str, str]  # what the API and `retrain` ran with (registry, refresh interval, ...)
    logged: Readings  # the labelled drawings, as the shipped model read them
    before: Readings  # the fresh drawings before the retrain
    after: Readings  # the same fresh drawings, once the API served the candidate
    retrain: subprocess.CompletedProcess[str]
    retrain_seconds: float
    switch_seconds: float  # from the end of `retrain` to the API serving the candidate
    parent: str
    candidate: str


def read(client: httpx.Client, inks: Sequence[np.ndarray], labels: np.ndarray) -> Readings:
    """POST each drawing as the page's canvas PNG."""
    readings = Readings(labels, [], [])
    for ink in inks:
        response = client.post("/v1/predictions", files={"file": ("digit.png", canvas_png(ink), "image/png")})
        response.raise_for_status()
        body = response.json()
        readings.digits.append(body["digit"])
        readings.verdicts.append(body["verdict"])
        readings.versions.append(body["model_version"])
        readings.ids.append(body["id"])
    return readings


def label(client: httpx.Client, readings: Readings) -> None:
    for prediction_id, true_label in zip(readings.ids, readings.labels, strict=True):
        client.put(
            f"/v1/predictions/{prediction_id}/label", json={"label": int(true_label)}
        ).raise_for_status()


def run(
    database_url: str,
    workdir: Path,
    data_dir: Path,
    *,
    logged: int,
    fresh: int,
    retrain_args: Sequence[str] = (),
    refresh_s: float = 1.0,
    log: Path | None = None,
) -> LoopRun:
    """The loop, on a migrated, empty database; the registry and the state live in `workdir`."""
    env = {
        "DATABASE_URL": database_url,
        "DIGIT_KNOWER_STATE_DIR": str(workdir / "state"),
        "DIGIT_KNOWER_MODEL_REGISTRY": str(workdir / "registry"),
        "DIGIT_KNOWER_MODEL_REFRESH_S": str(refresh_s),
        "DIGIT_KNOWER_DATA_DIR": str(data_dir),
        # The simulated user labels with the admin key: a trusted labeller, whose labels retraining
        # learns from (lifecycle.feedback), labelling faster than the per-key limit allows a person.
        "DIGIT_KNOWER_API_KEY": LOOP_ADMIN_KEY,
        "DIGIT_KNOWER_LABELS_PER_MINUTE": "0",
    }
    logged_labels, fresh_labels = balanced_labels(logged, LOGGED_SEED), balanced_labels(fresh, FRESH_SEED)
    logged_inks = seven_segment_drawings(logged_labels, LOGGED_SEED)
    fresh_inks = seven_segment_drawings(fresh_labels, FRESH_SEED)
    with (
        servers.api(env, log or workdir / "api.log") as api,
        httpx.Client(base_url=api.url, timeout=60, headers={"X-API-Key": LOOP_ADMIN_KEY}) as client,
    ):
        parent = client.get("/v1/model").json()["version"]
        taught = read(client, logged_inks, logged_labels)
        label(client, taught)
        before = read(client, fresh_inks, fresh_labels)

        started = time.monotonic()
        retrain = subprocess.run(
            [servers.digit_knower_command(), "retrain", "--promote", *retrain_args],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
        )
        retrain_seconds = time.monotonic() - started
        if retrain.returncode != 0:
            raise AssertionError(
                f"retrain exited {retrain.returncode}:\n{retrain.stdout}\n{retrain.stderr[-3000:]}"
            )

        finished = time.monotonic()
        while (candidate := client.get("/v1/model").json()["version"]) == parent:
            if time.monotonic() - finished > DEADLINE_S:
                raise AssertionError(f"the API never served the candidate:\n{api.tail()}")
            time.sleep(0.05)
        switch_seconds = time.monotonic() - finished
        after = read(client, fresh_inks, fresh_labels)
    return LoopRun(
        database_url, env, taught, before, after, retrain, retrain_seconds, switch_seconds, parent, candidate
    )
