"""Every setting keeps the environment variable name it has always had, and a `.env` file works."""

from __future__ import annotations

from pathlib import Path

import pytest

from digit_knower.settings import Settings, env_name, get_settings, settings_problem

# Each field, the variable that sets it, a value in the environment's text, and what it becomes.
NAMES = [
    ("database_url", "DATABASE_URL", "sqlite:///a.db", "sqlite:///a.db"),
    ("database_url", "DIGIT_KNOWER_DATABASE_URL", "sqlite:///b.db", "sqlite:///b.db"),
    ("model_dir", "DIGIT_KNOWER_MODEL_DIR", "/m", Path("/m")),
    ("data_dir", "DIGIT_KNOWER_DATA_DIR", "/d", Path("/d")),
    ("cache_dir", "DIGIT_KNOWER_CACHE_DIR", "/c", Path("/c")),
    ("state_dir", "DIGIT_KNOWER_STATE_DIR", "/s", Path("/s")),
    ("model_registry", "DIGIT_KNOWER_MODEL_REGISTRY", "/r", Path("/r")),
    ("model_refresh_s", "DIGIT_KNOWER_MODEL_REFRESH_S", "2.5", 2.5),
    ("retrain_min_feedback", "DIGIT_KNOWER_RETRAIN_MIN_FEEDBACK", "7", 7),
    ("api_key", "DIGIT_KNOWER_API_KEY", "k3y", "k3y"),
    ("labels_per_minute", "DIGIT_KNOWER_LABELS_PER_MINUTE", "30", 30.0),
    ("retention_days", "DIGIT_KNOWER_RETENTION_DAYS", "90", 90.0),
    ("outbox_max_mb", "DIGIT_KNOWER_OUTBOX_MAX_MB", "800", 800.0),
    ("api_docs", "DIGIT_KNOWER_API_DOCS", "false", False),
    ("api_read_timeout_s", "DIGIT_KNOWER_API_READ_TIMEOUT_S", "3", 3.0),
    ("metrics_enabled", "DIGIT_KNOWER_METRICS", "false", False),
    ("metrics_port", "DIGIT_KNOWER_METRICS_PORT", "9200", 9200),
    ("web_metrics_port", "DIGIT_KNOWER_WEB_METRICS_PORT", "9300", 9300),
]


def test_the_table_names_every_setting() -> None:
    assert {field for field, *_ in NAMES} == set(Settings.model_fields)


@pytest.mark.parametrize(("field", "variable", "text", "value"), NAMES, ids=[n[1] for n in NAMES])
def test_each_setting_is_read_from_its_variable(
    field: str, variable: str, text: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, text)
    assert getattr(Settings(), field) == value


@pytest.mark.parametrize(
    ("field", "variable"), [(f, v) for f, v, *_ in NAMES if v != "DIGIT_KNOWER_DATABASE_URL"]
)
def test_messages_name_the_variable_a_person_sets(field: str, variable: str) -> None:
    assert env_name(field) == variable


def test_a_field_name_is_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    # Another program's API_KEY or STATE_DIR must not set ours.
    monkeypatch.setenv("API_KEY", "not-ours")
    monkeypatch.setenv("STATE_DIR", "/not/ours")
    monkeypatch.setenv("METRICS_ENABLED", "false")
    monkeypatch.setenv("DIGIT_KNOWER_METRICS_ENABLED", "false")  # the field's name, prefixed
    settings = Settings()
    assert settings.api_key is None
    assert settings.state_dir != Path("/not/ours")
    assert settings.metrics_enabled is True


def test_a_dot_env_file_in_the_working_folder_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("DIGIT_KNOWER_MODEL_REFRESH_S=4\nDIGIT_KNOWER_METRICS=false\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert (settings.model_refresh_s, settings.metrics_enabled) == (4.0, False)


def test_settings_that_are_not_valid_are_named_by_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_WEB_METRICS_PORT", "0")
    monkeypatch.setenv("DIGIT_KNOWER_METRICS", "maybe")
    get_settings.cache_clear()
    problem = settings_problem()
    assert problem is not None
    assert (
        "DIGIT_KNOWER_WEB_METRICS_PORT='0' is not valid: Input should be greater than or equal to 1"
        in problem
    )
    assert "DIGIT_KNOWER_METRICS='maybe' is not valid" in problem


def test_valid_settings_are_no_problem() -> None:
    assert settings_problem() is None
