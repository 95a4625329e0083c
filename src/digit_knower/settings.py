"""The one settings object, read from environment variables or a `.env` file.

Every front end (CLI, web page, API) reads its configuration here and nowhere else.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_path
from pydantic import AliasChoices, Field, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

APP_NAME = "digit-knower"
ENV_PREFIX = "DIGIT_KNOWER_"

# The shipped model is package data: a wheel carries it, so a plain `pip install` can read.
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "reader" / "shipped"


def app_data_dir() -> Path:
    """The user's data folder for Digit Knower (embedded database, outbox, models, data sets)."""
    return user_data_path(APP_NAME, appauthor=False)


class Settings(BaseSettings):
    """Each field `name` is read from the environment variable DIGIT_KNOWER_<NAME> (any case), or
    from that line of a `.env` file in the working folder. Two keep names of their own:
    `database_url` (DATABASE_URL, the name every tool knows, or DIGIT_KNOWER_DATABASE_URL) and
    `metrics_enabled` (DIGIT_KNOWER_METRICS)."""

    # No populate_by_name: with it, a field's own name would be read as a second variable
    # (METRICS_ENABLED, or API_KEY meant for another program); each setting has its one name.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "DIGIT_KNOWER_DATABASE_URL"),
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db. "
        "Unset: an embedded SQLite file in the user's data folder.",
    )
    model_dir: Path = Field(
        default=SHIPPED_MODEL_DIR,
        description="Folder holding digit_cnn.onnx and model_card.json.",
    )
    data_dir: Path = Field(
        # The app's own folder: MNIST downloaded by earlier versions lies in its mnist/ already.
        default_factory=app_data_dir,
        description="Where the data sets lie (mnist/, pendigits/, omniglot/), or are downloaded to by "
        "`digit-knower data fetch` and by training. A folder that holds the MNIST files themselves "
        "also works: the other sets then lie beside it.",
    )
    cache_dir: Path = Field(
        default_factory=lambda: app_data_dir() / "cache",
        description="Where training keeps the drawings it makes once (redrawn digits, non-digits, "
        "and the model card's test-side drawings).",
    )
    state_dir: Path = Field(
        default_factory=app_data_dir,
        description="Folder for the embedded SQLite database and the outbox.",
    )
    model_registry: Path = Field(
        default_factory=lambda: app_data_dir() / "models",
        description="Folder of retrained models, one sub-folder per version. Every web and API "
        "process and `retrain` must see the same folder (a shared volume).",
    )
    model_refresh_s: float = Field(
        default=10.0,
        gt=0,
        description="How often a serving process checks which model version should serve.",
    )
    retrain_min_feedback: int = Field(
        default=50,
        ge=1,
        description="`retrain` refuses to run with fewer labelled predictions than this.",
    )
    api_key: str | None = Field(
        default=None,
        description="When set, the API requires it in the X-API-Key header (its docs too).",
    )
    labels_per_minute: float = Field(
        default=60.0,
        ge=0,
        description="Labels one API key, or one page visitor, may give a minute (in bursts of as "
        "many); more get 429 (the page says to wait). 0: no limit.",
    )
    retention_days: float | None = Field(
        default=None,
        gt=0,
        description="Drop the pictures of predictions older than this many days (their digit, "
        "verdict and label stay, for the statistics): by every `digit-knower retrain` (the nightly "
        "job), and by `digit-knower db prune`. Unset: keep every picture.",
    )
    outbox_max_mb: float | None = Field(
        default=None,
        gt=0,
        description="The most megabytes the local outbox may hold (about 1,500 predictions a MB). "
        "At the cap, new predictions get 503 'local storage full' while the database is away; "
        "nothing queued is dropped. Set it below the outbox volume's size (the chart does). Unset: "
        "the disk's free space.",
    )
    api_docs: bool = Field(
        default=True,
        description="Serve the API's docs (/docs) and its OpenAPI document (/openapi.json).",
    )
    api_read_timeout_s: float = Field(
        default=15.0,
        gt=0,
        description="Seconds the API waits for a request's headers in full, and for each part of "
        "its body; a client that is slower gets 408 and the connection is closed.",
    )
    metrics_enabled: bool = Field(
        default=True,
        validation_alias="DIGIT_KNOWER_METRICS",
        description="Expose Prometheus metrics (true/false).",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="The API's metrics on a port of their own. Unset: GET /metrics on the API's port.",
    )
    web_metrics_port: int = Field(
        default=9101,
        ge=1,
        le=65535,
        description="The port where the web page's process serves its metrics.",
    )

    @property
    def effective_database_url(self) -> str:
        """DATABASE_URL, or the embedded SQLite file when none is configured."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.state_dir / 'digit_knower.sqlite3'}"

    @property
    def outbox_path(self) -> Path:
        """Durable local queue for records the database could not take yet."""
        return self.state_dir / "outbox.sqlite3"


def env_name(field: str) -> str:
    """The environment variable that sets `field`: its own name where it has one, else the prefixed
    field name."""
    alias = Settings.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    return ENV_PREFIX + field.upper()


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_problem() -> str | None:
    """One line naming each setting in the environment (or .env) that is not valid, or None."""
    try:
        get_settings()
    except ValidationError as err:
        return "; ".join(_problem(error) for error in err.errors())
    return None


def _problem(error: ErrorDetails) -> str:
    # A field read through the prefix is located by its field name; an alias by the alias itself.
    where = ".".join(map(str, error["loc"]))
    name = env_name(where) if where in Settings.model_fields else where
    return f"{name}={error['input']!r} is not valid: {error['msg']}"
