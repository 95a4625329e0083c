"""`digit-knower`: every subcommand's --help works and explains its options, the dispatcher hands
each command line to the module that owns it, and asking for help loads nothing heavy."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from digit_knower import cli
from digit_knower.cli import main
from digit_knower.settings import get_settings

CLI = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "digit-knower"

HELP = {
    (): ["train", "evaluate", "serve", "api", "retrain", "models", "db", "data"],
    ("train",): [
        "--preset",
        "--epochs",
        "--seed",
        "--batch-size",
        "--out",
        "--data-dir",
        "--threads",
        "ONNX",
    ],
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


# What the serving and training extras bring: none of it may load before a command runs.
HEAVY = ("torch", "onnxruntime", "streamlit", "sqlalchemy", "fastapi", "uvicorn", "alembic")


@pytest.mark.parametrize("argv", [[], *([name] for name in cli.COMMANDS)], ids=lambda a: " ".join(a) or "-")
def test_asking_for_help_imports_nothing_heavy(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "import digit_knower.cli\n"
        f"heavy = {HEAVY!r}\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in heavy], 'on import'\n"
        "try:\n"
        f"    digit_knower.cli.main({[*argv, '--help']!r})\n"
        "except SystemExit as exit_:\n"
        "    assert exit_.code == 0, exit_.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_python_dash_m_runs_the_same_command_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "digit_knower", "serve", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: digit-knower serve")
    assert "--port PORT  port to listen on (default: 8501)" in done.stdout


def test_each_command_line_goes_to_the_main_of_the_module_that_owns_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[argparse.Namespace] = []

    def fake_main(args: argparse.Namespace) -> int:
        seen.append(args)
        return 7

    monkeypatch.setattr(cli.command_module("serve"), "main", fake_main)
    assert main(["serve", "--port", "1234"]) == 7  # its exit status is the command's
    [args] = seen
    assert (args.command, args.host, args.port) == ("serve", "127.0.0.1", 1234)


def test_nested_actions_show_their_defaults_too(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["db", "flush", "--help"])
    assert "0 tries once (default: 0.0)" in " ".join(capsys.readouterr().out.split())


def test_a_setting_that_is_not_valid_stops_every_command_with_its_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_MODEL_REFRESH_S", "soon")
    get_settings.cache_clear()
    assert main(["models", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("digit-knower: DIGIT_KNOWER_MODEL_REFRESH_S='soon' is not valid: ")
