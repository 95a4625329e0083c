"""The wheel, installed as a user installs it: `pip wheel .`, a fresh venv, `pip install` of the
wheel (never editable), then run from a folder outside the repository with no model setting.

The wheel carries the shipped model as package data, so `Predictor.load()` reads with it and
`digit-knower api` answers predictions with nothing but the installed package.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from digit_knower.settings import SHIPPED_MODEL_DIR
from tests.support import servers
from tests.support.api import drawn_one
from tests.support.deploy import REPO_ROOT
from tests.support.postgres_server import free_port

pytestmark = pytest.mark.slow  # builds the wheel and installs it with its dependencies (about 30 s)

SHIPPED_IN_WHEEL = "digit_knower/reader/shipped/"
SHIPPED_CARD = json.loads((SHIPPED_MODEL_DIR / "model_card.json").read_text())
# Reads stdin's picture with the default model; prints where that model lies and what it read.
READ_A_PICTURE = """
import json, sys
from digit_knower import Predictor
from digit_knower.settings import get_settings

prediction = Predictor.load().predict(sys.stdin.buffer.read())
print(json.dumps({"model_dir": str(get_settings().model_dir), "digit": prediction.digit,
                  "model_version": prediction.model_version}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps .` of the repository, as it is on disk."""
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(REPO_ROOT)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (found,) = out.glob("digit_knower-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its dependencies installed."""
    venv = tmp_path_factory.mktemp("install") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    installed = subprocess.run(
        [venv / "bin" / "python", "-m", "pip", "install", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


@dataclass(frozen=True)
class User:
    """A user's machine: a fresh home, and a working folder outside the repository (no .env)."""

    home: Path
    cwd: Path

    def env(self, venv: Path) -> dict[str, str]:
        """The venv on PATH, and no setting of Digit Knower's: no DIGIT_KNOWER_MODEL_DIR."""
        return {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(self.home)}


@pytest.fixture
def user(tmp_path: Path) -> User:
    user = User(tmp_path / "home", tmp_path / "cwd")
    user.home.mkdir()
    user.cwd.mkdir()
    return user


def test_the_wheel_carries_the_whole_shipped_model(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {name.removeprefix(SHIPPED_IN_WHEEL) for name in names if name.startswith(SHIPPED_IN_WHEEL)}
    # The ONNX file and its card serve; the torch weights are what `retrain` fine-tunes from.
    assert shipped == {path.name for path in SHIPPED_MODEL_DIR.iterdir() if path.is_file()}
    assert {"digit_cnn.onnx", "model_card.json", "digit_cnn.pt"} <= shipped


def test_predictor_load_reads_a_drawn_digit_with_the_model_inside_the_installed_package(
    venv: Path, user: User
) -> None:
    done = subprocess.run(
        [venv / "bin" / "python", "-c", READ_A_PICTURE],
        input=drawn_one(),
        env=user.env(venv),
        cwd=user.cwd,
        capture_output=True,
    )
    assert done.returncode == 0, done.stderr.decode()
    read = json.loads(done.stdout)
    assert Path(read["model_dir"]).is_relative_to(venv), f"not the installed package's model: {read}"
    assert (read["digit"], read["model_version"]) == (1, SHIPPED_CARD["version"])


def test_digit_knower_api_answers_health_checks_and_predictions(
    venv: Path, user: User, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [str(venv / "bin" / "digit-knower"), "api", "--host", "127.0.0.1", "--port", str(port)]
    with servers.running(
        argv,
        env=user.env(venv),
        log=tmp_path / "api.log",
        url=url,
        ready=lambda _server: servers.answers(f"{url}/healthz"),
        cwd=user.cwd,
    ):
        assert httpx.get(f"{url}/healthz").status_code == 200
        files = {"file": ("one.png", drawn_one(), "image/png")}
        response = httpx.post(f"{url}/v1/predictions", files=files)
        assert response.status_code == 201, response.text
        assert (response.json()["digit"], response.json()["model_version"]) == (1, SHIPPED_CARD["version"])
