"""Retention: old pictures go, their figures stay; on an SQLite file AND on the real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from digit_knower.cli import main as cli_main
from digit_knower.settings import get_settings
from digit_knower.store import Store
from digit_knower.store.api_keys import ADMIN_KEY_NAME
from tests.support.store import make_record, make_several


def log_aged(store: Store, days_old: list[float]) -> list:
    now = datetime.now(UTC)
    records = [make_record(i % 10, at=now - timedelta(days=d)) for i, d in enumerate(days_old)]
    for record in records:
        store.log_prediction(record)
        store.set_true_label(record.id, record.digit, by=ADMIN_KEY_NAME)
    return records


def test_prune_drops_old_pictures_and_keeps_every_figure(store: Store) -> None:
    old = log_aged(store, [40, 31, 29, 1])[:2]
    stats_before = store.stats()

    assert store.prune(timedelta(days=30)) == 2
    assert store.prune(timedelta(days=30)) == 0  # nothing more to drop

    assert store.stats() == stats_before  # digit, verdict and label stay
    by_id = {r.id: r for r in store.recent()}
    assert [by_id[r.id].model_input for r in old] == [None, None]
    assert all(r.model_input is not None for i, r in by_id.items() if i not in {o.id for o in old})
    assert {r.true_label for r in (by_id[o.id] for o in old)} == {0, 1}
    assert len(store.labelled_feedback()) == 2  # retraining has no picture to learn the old ones from
    with pytest.raises(ValueError, match="was pruned"):
        by_id[old[0].id].model_input_array()


def test_prune_drops_the_picture_of_every_digit_of_several(store: Store) -> None:
    now = datetime.now(UTC)
    old, recent = make_several(4, 2, at=now - timedelta(days=40)), make_several(7, 1, at=now)
    store.log_prediction(old)
    store.log_prediction(recent)

    assert store.prune(timedelta(days=30)) == 1
    by_id = {r.id: r for r in store.recent()}
    assert (by_id[old.id].model_input, by_id[old.id].part_inputs) == (None, None)
    assert by_id[old.id].digits == [4, 2]  # what was read stays
    assert by_id[recent.id].part_inputs == recent.part_inputs


def test_db_prune_takes_the_age_or_the_setting_and_says_how_many(
    database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    with Store(database_url, outbox_path=tmp_path / "o.sqlite3") as store:
        log_aged(store, [10, 5, 1])
    capsys.readouterr()

    assert cli_main(["db", "prune"]) == 2
    assert "--older-than DAYS, or set DIGIT_KNOWER_RETENTION_DAYS" in capsys.readouterr().err
    assert cli_main(["db", "prune", "--older-than", "0"]) == 2
    assert "more than 0 days" in capsys.readouterr().err

    assert cli_main(["db", "prune", "--older-than", "7"]) == 0
    assert capsys.readouterr().out.endswith("dropped the pictures of 1 predictions older than 7 days\n")
    monkeypatch.setenv("DIGIT_KNOWER_RETENTION_DAYS", "2")
    get_settings.cache_clear()
    assert cli_main(["db", "prune"]) == 0
    assert "dropped the pictures of 1 predictions older than 2 days" in capsys.readouterr().out
