"""The suite's own data lookup (tests/support/data.py, run by ./scripts/test): DIGIT_KNOWER_DATA_DIR,
else ../shared/data beside the checkout, else the user's data folder, fetched there when missing.
On a fresh clone there is no ../shared: the lookup is run from a checkout-like folder with none
beside it, and the download goes to a local HTTP server serving the same files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.download import DataError
from digit_knower.data.mnist import load_test
from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import load_pendigits
from digit_knower.settings import Settings
from tests.support import data as lookup
from tests.support.data import NO_NETWORK, REPO_ROOT


@pytest.fixture
def fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A checkout with no ../shared beside it, no DIGIT_KNOWER_DATA_DIR and no .env, on a machine
    whose user data folder is empty."""
    checkout = tmp_path / "clone" / "digit-knower"
    checkout.mkdir(parents=True)
    monkeypatch.delenv("DIGIT_KNOWER_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "user-data"))
    monkeypatch.chdir(tmp_path)
    return checkout


def test_digit_knower_data_dir_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "shared" / "data").mkdir(parents=True)
    monkeypatch.setenv("DIGIT_KNOWER_DATA_DIR", str(tmp_path / "mine"))
    assert lookup.find_data_dir(tmp_path / "checkout") == tmp_path / "mine"


def test_then_the_shared_data_beside_the_checkout(fresh_clone: Path) -> None:
    shared = fresh_clone.parent / "shared" / "data"
    shared.mkdir(parents=True)
    assert lookup.find_data_dir(fresh_clone) == shared


def test_then_the_users_data_folder(fresh_clone: Path, tmp_path: Path) -> None:
    found = lookup.find_data_dir(fresh_clone)
    assert found == Settings().data_dir
    assert found.is_relative_to(tmp_path / "user-data")


def test_on_a_fresh_clone_the_data_is_fetched_once_into_the_users_data_folder(
    fresh_clone: Path, tmp_path: Path, mirror: str, mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    found = lookup.ensure_data_dir(fresh_clone, mirror=mirror)
    assert found == Settings().data_dir and found.is_relative_to(tmp_path / "user-data")
    assert lookup.missing_sets(found) == []
    assert "verified in" in capsys.readouterr().out
    # What was fetched is the real data, verified as it loads.
    assert np.array_equal(
        load_test(found, download=False).labels, load_test(mnist_dir, download=False).labels
    )
    assert len(load_pendigits(found, download=False).labels) == 7_494
    assert len(load_omniglot(found, download=False).valid) == 1_000
    # The next run finds it there and downloads nothing.
    assert lookup.ensure_data_dir(fresh_clone, mirror=NO_NETWORK) == found


def test_a_fresh_clone_without_network_fails_saying_what_to_set(fresh_clone: Path) -> None:
    with pytest.raises(DataError) as error:
        lookup.ensure_data_dir(fresh_clone, mirror=NO_NETWORK)
    message = str(error.value)
    assert message.startswith(f"the suite needs mnist, pendigits, omniglot in {Settings().data_dir}")
    assert "Set DIGIT_KNOWER_DATA_DIR to a data folder that holds them." in message


def test_scripts_test_gets_the_folder_alone_on_stdout(data_dir: Path) -> None:
    # ./scripts/test runs: data_dir="$(.venv/bin/python -m tests.support.data)"
    env = {**os.environ, "DIGIT_KNOWER_DATA_DIR": str(data_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "tests.support.data"], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{data_dir}\n"
