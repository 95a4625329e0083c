"""Property-based fuzzing of the API against its own OpenAPI document (schemathesis).

Schemathesis generates valid and invalid requests for every operation from /openapi.json.
Whatever it sends, the API must answer with a documented status and a body matching the
document, and never with a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from digit_knower.api import create_app
from digit_knower.cli import main as cli_main
from digit_knower.settings import get_settings

# The document is static, so it is read once here; each test's app gets its own database below.
# (schemathesis.pytest.from_fixture would build it per test, but fails under pytest 9.)
schema = schemathesis.openapi.from_dict(create_app().openapi())


@pytest.fixture
def app(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    app = create_app()
    with TestClient(app):  # runs the lifespan: one model and one store for the whole run
        yield app


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_server_error(case: schemathesis.Case, app: FastAPI) -> None:
    case.call_and_validate(
        app=app,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
