"""Every subcommand's --help works and explains its options."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from digit_knower.cli import main

CLI = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "digit-knower"

HELP = {
    (): ["train", "evaluate", "serve", "api", "retrain", "models", "db"],
    ("train",): ["--epochs", "--seed", "--batch-size", "--out", "--data-dir", "--threads", "ONNX"],
    ("evaluate",): ["--model-dir", "--data-dir", "confusion matrix", "ONNX Runtime"],
    ("serve",): ["--host", "--port", "Streamlit"],
    ("api",): ["--host", "--port", "--workers"],
    ("retrain",): [
        "--promote",
        "--min-feedback",
        "--steps",
        "--feedback-share",
        "holdout",
        "gate",
        "Exit status",
    ],
    ("models",): ["list", "promote", "rollback", "DIGIT_KNOWER_MODEL_REFRESH_S"],
    ("models", "list"): ["live accuracy", "serves"],
    ("models", "promote"): ["version", "--reason", "--by"],
    ("models", "rollback"): ["--reason", "--by"],
    ("db",): ["upgrade", "downgrade", "current", "flush", "outbox"],
    ("db", "upgrade"): ["revision"],
    ("db", "downgrade"): ["revision"],
    ("db", "current"): ["revision"],
    ("db", "flush"): ["--wait", "cannot be reached"],
    ("db", "outbox"): ["list", "retry", "drop", "dead letter", "never the password", "Exit status"],
    ("db", "outbox", "list"): ["dead letter"],
    ("db", "outbox", "retry"): ["ID", "--all", "--database"],
    ("db", "outbox", "drop"): ["ID", "--all", "--database", "for good"],
}


@pytest.mark.parametrize("command", HELP, ids=lambda c: " ".join(c) or "digit-knower")
def test_help_explains_the_command(command: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    assert text.startswith("usage: digit-knower")
    for word in HELP[command]:
        assert word in text


def test_the_installed_console_script_answers_help() -> None:
    result = subprocess.run([str(CLI), "train", "--help"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "--epochs" in result.stdout


def test_a_missing_subcommand_is_an_error_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([])
    assert exit_.value.code == 2
    assert "the following arguments are required: COMMAND" in capsys.readouterr().err
