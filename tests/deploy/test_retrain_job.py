"""compose's `retrain` service: the training image under a profile, on the same database, state and
model registry as the web page and the API (checked with the real Compose v2 binary)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from digit_knower import cli
from tests.support.deploy import compose, docker_config_with_compose, filled_env_file

REGISTRY = "/var/lib/digit-knower-models"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> dict:
    docker_config = docker_config_with_compose(tmp_path_factory.mktemp("docker-config"))
    env_file = filled_env_file(tmp_path_factory.mktemp("env"))
    result = compose(docker_config, "--profile", "retrain", "config", "--format", "json", env_file=env_file)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["services"]


def mounts(service: dict) -> dict[str, str]:
    return {volume["target"]: volume["source"] for volume in service["volumes"]}


def test_every_serving_process_and_retrain_share_one_model_registry_volume(services: dict) -> None:
    for name in ("web", "api", "retrain"):
        assert services[name]["environment"]["DIGIT_KNOWER_MODEL_REGISTRY"] == REGISTRY
        assert mounts(services[name])[REGISTRY] == "models"


def test_retrain_runs_the_training_image_on_the_same_database_and_promotes_through_the_gate(
    services: dict,
) -> None:
    retrain, api = services["retrain"], services["api"]
    assert retrain["profiles"] == ["retrain"]
    assert retrain["build"]["target"] == "train"
    assert retrain["image"] != api["image"]  # the serving image carries no torch
    assert retrain["environment"]["DATABASE_URL"] == api["environment"]["DATABASE_URL"]
    assert mounts(retrain)["/var/lib/digit-knower-mnist"] == "mnist"
    assert retrain["command"] == ["retrain", "--promote"]
    assert cli.build_parser().parse_args(retrain["command"]).command == "retrain"
    assert retrain["restart"] == "no"
    depends = {dep: spec["condition"] for dep, spec in retrain["depends_on"].items()}
    assert depends == {"db": "service_healthy", "migrate": "service_completed_successfully"}


def test_the_serving_image_makes_the_volume_folders_its_users(services: dict) -> None:
    dockerfile = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
    assert (
        f"chown digitknower:digitknower /var/lib/digit-knower {REGISTRY} /var/lib/digit-knower-mnist"
        in dockerfile
    )


def test_the_serving_side_of_the_loop_imports_no_torch(tmp_path: Path) -> None:
    """The serving image has no torch: `models list|promote|rollback`, the hot swap, the API and the
    page's Models view must run without it (only `retrain` needs the training code)."""
    probe = (
        "import sys\n"
        "from digit_knower.cli import main\n"
        "assert main(['models', 'list']) == 0\n"
        "import digit_knower.api.app, digit_knower.serving.live_model, digit_knower.web.models_view\n"
        "leaked = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'skimage'))\n"
        "assert not leaked, leaked\n"
        "assert not {'digit_knower.training.train', 'digit_knower.training.finetune'} & sys.modules.keys()\n"
    )
    env = {
        **os.environ,
        "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state"),
        "DIGIT_KNOWER_MODEL_REGISTRY": str(tmp_path / "registry"),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "* serves:" in done.stdout
