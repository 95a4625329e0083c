"""`digit-knower serve` is safe by default (issue 21): it listens on this machine only, and warns,
in its log and through exposure_warning() for the page, when it listens beyond it with no key."""

from __future__ import annotations

import argparse

import pytest

from digit_knower.cli import main
from digit_knower.settings import get_settings
from digit_knower.web import serve_command
from tests.support.postgres_server import free_port


def test_it_listens_on_this_machine_only_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[argparse.Namespace] = []
    monkeypatch.setattr(serve_command, "main", lambda args: seen.append(args) or 0)
    main(["serve"])
    assert seen[0].host == "127.0.0.1"


def test_on_every_network_with_no_key_the_log_warns_and_the_page_can_tell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(serve_command, "serve_metrics", lambda host: None)
    monkeypatch.setattr("streamlit.web.cli.main", lambda args, **_: started.append(args))
    assert main(["serve", "--host", "0.0.0.0", "--port", str(free_port())]) == 0
    warning = capsys.readouterr().err
    assert "digit-knower serve: WARNING: this page listens on 0.0.0.0" in warning
    assert "DIGIT_KNOWER_API_KEY" in warning
    assert started, "a warning, not a refusal: the page still starts"
    assert serve_command.exposed_without_key("0.0.0.0")
    assert serve_command.exposure_warning("0.0.0.0") in warning


def test_with_a_key_or_on_this_machine_there_is_no_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serve_command.exposure_warning("127.0.0.1") is None
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "5e" * 16)
    get_settings.cache_clear()
    assert serve_command.exposure_warning("0.0.0.0") is None


def test_the_env_example_placeholder_password_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://dk:change-me-openssl-rand-hex-24@db/dk")
    assert main(["serve", "--port", str(free_port())]) == 2
    assert "placeholder from .env.example" in capsys.readouterr().err


def test_the_page_is_light_or_dark_as_the_visitors_system_is() -> None:
    """No theme base and nothing in [theme] itself (which would make one custom theme, always
    light): Streamlit follows the browser's prefers-color-scheme, with the page's accent in each
    scheme. Chromium checks the page in both: tests/e2e/test_page_theme_in_chromium.py."""
    argv = serve_command.streamlit_argv("127.0.0.1", 8501)
    options = dict(zip(argv[2::2], argv[3::2], strict=True))
    theme = {name: value for name, value in options.items() if name.startswith("--theme.")}
    assert theme == {"--theme.light.primaryColor": "#4f8cff", "--theme.dark.primaryColor": "#4f8cff"}
    assert (options["--server.address"], options["--server.port"]) == ("127.0.0.1", "8501")
