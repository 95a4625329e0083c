"""`digit-knower api` is safe by default (issue 21): it listens on this machine only, and beyond it
refuses to start with no API key unless told --insecure-no-key."""

from __future__ import annotations

import subprocess

import pytest

from digit_knower.api import api_command
from digit_knower.cli import main
from tests.support.servers import digit_knower_command


def parsed(monkeypatch: pytest.MonkeyPatch, *argv: str):
    seen = []
    monkeypatch.setattr(api_command, "main", lambda args: seen.append(args) or 0)
    main(["api", *argv])
    return seen[0]


def test_it_listens_on_this_machine_only_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    args = parsed(monkeypatch)
    assert (args.host, args.insecure_no_key) == ("127.0.0.1", False)


def test_on_every_network_with_no_key_it_refuses_and_says_how_to_set_one(tmp_path) -> None:
    done = subprocess.run(
        [digit_knower_command(), "api", "--host", "0.0.0.0", "--port", "1"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DIGIT_KNOWER_STATE_DIR": str(tmp_path)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    [line] = done.stderr.splitlines()  # one line, no traceback; port 1 was never tried
    assert line.startswith("digit-knower api: refusing to listen on 0.0.0.0 with no API key")
    assert "DIGIT_KNOWER_API_KEY=$(openssl rand -hex 32)" in line
    assert "--insecure-no-key" in line


def test_insecure_no_key_lets_it_start_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    assert api_command.exposure_refusal("0.0.0.0", insecure_no_key=True) is None
    assert "WARNING: listening on 0.0.0.0 with no API key" in capsys.readouterr().err


def test_with_a_key_it_may_listen_anywhere_without_a_word(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "5e" * 16)
    assert api_command.exposure_refusal("0.0.0.0", insecure_no_key=False) is None
    assert api_command.exposure_refusal("::", insecure_no_key=False) is None
    assert capsys.readouterr().err == ""


def test_on_this_machine_it_needs_no_key() -> None:
    assert api_command.exposure_refusal("127.0.0.1", insecure_no_key=False) is None


def test_the_env_example_placeholder_key_is_refused_even_on_this_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "change-me-openssl-rand-hex-32")
    refusal = api_command.exposure_refusal("127.0.0.1", insecure_no_key=True)
    assert refusal is not None and "placeholder from .env.example" in refusal
