"""Nothing is sent to third parties: importing and using the reader writes no ONNX Runtime telemetry."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

READ_A_DIGIT = """
import numpy as np
from digit_knower import Predictor

canvas = np.zeros((280, 280), dtype=np.uint8)
canvas[40:240, 130:150] = 255
print(Predictor.load().predict(canvas).digit)
"""


# ONNX Runtime stays quiet by itself where it sees a CI system (CI=true, as in .ci/run), which would
# hide the difference: the child runs as on a user's machine.
NOT_PASSED_ON = {"ORT_DISABLE_TELEMETRY", "CI", "CONTINUOUS_INTEGRATION", "GITHUB_ACTIONS", "TF_BUILD"}


def _run_in_fresh_process(home: Path, **env: str) -> None:
    clean = {k: v for k, v in os.environ.items() if k not in NOT_PASSED_ON}
    result = subprocess.run(
        [sys.executable, "-c", READ_A_DIGIT],
        env={**clean, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "1"


def _telemetry_files(home: Path) -> list[Path]:
    return [p for p in home.rglob("*") if p.is_file() and "onnxruntime" in str(p).lower()]


def test_reading_a_digit_leaves_no_onnxruntime_telemetry(tmp_path: Path) -> None:
    _run_in_fresh_process(tmp_path)

    assert _telemetry_files(tmp_path) == []


def test_a_user_can_still_opt_in_and_the_check_above_would_see_it(tmp_path: Path) -> None:
    # Proves the test above can fail: with telemetry allowed, ONNX Runtime writes its files.
    _run_in_fresh_process(tmp_path, ORT_DISABLE_TELEMETRY="0")

    assert _telemetry_files(tmp_path) != []
