"""Who can reach a server, and whether it is locked (serving/exposure.py)."""

from __future__ import annotations

import pytest

from digit_knower.serving import exposure
from digit_knower.settings import Settings


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_addresses_and_localhost_are_this_machine_only(host: str) -> None:
    assert exposure.is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "2001:db8::1", "no-such-host.invalid"])
def test_every_network_a_real_address_and_an_unknown_name_are_not(host: str) -> None:
    assert not exposure.is_loopback(host)


@pytest.mark.parametrize(
    ("host", "key", "exposed"),
    [
        ("0.0.0.0", None, True),
        ("0.0.0.0", "   ", True),
        ("0.0.0.0", "k" * 32, False),
        ("127.0.0.1", None, False),
    ],
)
def test_exposed_without_key_needs_both_a_wide_address_and_no_key(
    host: str, key: str | None, exposed: bool
) -> None:
    assert exposure.exposed_without_key(host, Settings(api_key=key)) is exposed


def test_env_example_placeholders_are_named_and_real_secrets_pass() -> None:
    key_problem = exposure.placeholder_problem(Settings(api_key="change-me-openssl-rand-hex-32"))
    assert key_problem is not None and "DIGIT_KNOWER_API_KEY" in key_problem
    url = "postgresql+psycopg://dk:change-me-openssl-rand-hex-24@db:5432/dk"
    password_problem = exposure.placeholder_problem(Settings(database_url=url))
    assert password_problem is not None and "POSTGRES_PASSWORD" in password_problem
    real = Settings(api_key="3f" * 16, database_url="postgresql+psycopg://dk:9ab0c1@db:5432/dk")
    assert exposure.placeholder_problem(real) is None
    assert exposure.placeholder_problem(Settings()) is None
