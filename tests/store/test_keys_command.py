"""`digit-knower keys create | list | revoke`, as a person runs it."""

from __future__ import annotations

import pytest

from digit_knower.cli import main as cli_main
from digit_knower.settings import get_settings
from digit_knower.store.api_keys import token_sha256


@pytest.fixture
def db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    return database_url


def test_create_shows_the_key_once_list_never_shows_it_and_revoke_stops_it(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli_main(["keys", "create", "labeller", "--scope", "label", "--scope", "read", "--trusted"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("created key 'labeller' (scopes label,read, trusted, created ")
    token = out.strip().splitlines()[-1]
    assert token.startswith("dk_") and len(token) > 40

    assert cli_main(["keys", "list"]) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("labeller  scopes label,read, trusted") and token not in listed
    assert token_sha256(token) not in listed

    assert cli_main(["keys", "revoke", "labeller"]) == 0
    assert capsys.readouterr().out.startswith("revoked key 'labeller' at ")
    assert cli_main(["keys", "list"]) == 0
    assert "REVOKED" in capsys.readouterr().out


def test_a_taken_name_or_an_unknown_key_is_one_line_and_status_1(
    db: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["keys", "create", "app", "--scope", "predict"]) == 0
    assert cli_main(["keys", "create", "app", "--scope", "read"]) == 1
    assert cli_main(["keys", "revoke", "ghost"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "error: a key named 'app' exists already (revoked names are never given again); choose another name",
        "error: no key is named 'ghost'; see `digit-knower keys list`",
    ]


def test_an_unknown_scope_is_a_usage_error(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli_main(["keys", "create", "app", "--scope", "write"])
    assert exit_.value.code == 2
    assert "invalid choice: 'write'" in capsys.readouterr().err
