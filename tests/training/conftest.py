"""What the training tests share: small recipes, MNIST and the real hands, a cache folder, and one
smoke run."""

from __future__ import annotations

from pathlib import Path

import pytest

from digit_knower.data.mnist import Mnist, load_mnist
from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import load_pendigits
from digit_knower.training import train
from digit_knower.training.config import TrainConfig
from digit_knower.training.data_mix import RealHands


@pytest.fixture(scope="session")
def smoke() -> TrainConfig:
    """A few thousand digits, one thread: a minute or two of CPU, even on a busy machine."""
    return TrainConfig(
        epochs=2, batch_size=64, train_limit=2500, val_size=1000, threads=1, nondigits=1200, val_nondigits=300
    )


@pytest.fixture(scope="session")
def tiny() -> TrainConfig:
    """A few hundred digits: seconds."""
    return TrainConfig(
        epochs=1, batch_size=100, train_limit=500, val_size=200, nondigits=300, val_nondigits=60
    )


@pytest.fixture(scope="session")
def mnist(mnist_dir: Path) -> Mnist:
    return load_mnist(mnist_dir, download=False)


@pytest.fixture(scope="session")
def hands(data_dir: Path) -> RealHands:
    """The real handwriting sets: UCI's pen digits and Omniglot."""
    return RealHands(
        pen=load_pendigits(data_dir, download=False), omniglot=load_omniglot(data_dir, download=False)
    )


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One drawing cache for the session: each recipe's drawings are made once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def smoke_run(
    smoke: TrainConfig, data_dir: Path, cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict, Path]:
    """`digit-knower train`'s whole run with the smoke recipe: its card and its model folder."""
    out = tmp_path_factory.mktemp("model")
    return train.run(smoke, data_dir, out, cache_dir=cache_dir), out
