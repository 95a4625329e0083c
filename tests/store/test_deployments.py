"""The lifecycle tables: which model serves (promote, rollback, history) and the feedback to learn
from, each on an SQLite file AND on the real PostgreSQL server."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from digit_knower.store import NothingToRollBackError, Store, UnknownModelError
from digit_knower.store.api_keys import ADMIN_KEY_NAME
from tests.support.store import T0, make_card, make_record

BASELINE, B, C = "dk-shipped", "dk-candidate-b", "dk-candidate-c"


@pytest.fixture
def registry_store(store: Store) -> Store:
    """A store with three registered models: the baseline (shipped) and two candidates."""
    for version in (BASELINE, B, C):
        store.register_model(make_card(version))
    return store


def test_nothing_serves_from_the_database_until_something_is_deployed(store: Store) -> None:
    assert store.serving_version() is None
    assert store.deployments() == []


def test_a_promotion_names_the_new_serving_version_and_keeps_who_when_and_why(
    registry_store: Store,
) -> None:
    before = datetime.now(UTC) - timedelta(minutes=1)
    first = registry_store.promote(B, by="ana@host", reason="better on feedback")
    second = registry_store.promote(C, by="retrain --promote", reason="gate passed")

    assert registry_store.serving_version() == C
    assert registry_store.deployments() == [second, first]  # newest first
    assert (first.action, first.version, first.previous_version) == ("promote", B, None)
    assert (second.previous_version, second.by, second.reason) == (B, "retrain --promote", "gate passed")
    assert first.at.tzinfo is not None and first.at >= before
    assert second.id > first.id


def test_only_a_registered_model_can_be_promoted(registry_store: Store) -> None:
    with pytest.raises(UnknownModelError, match="no registered model has the version 'dk-nope'"):
        registry_store.promote("dk-nope", by="ana", reason="typo")
    assert registry_store.serving_version() is None


def test_promoting_the_serving_version_again_changes_nothing(registry_store: Store) -> None:
    first = registry_store.promote(B, by="ana", reason="one")
    again = registry_store.promote(B, by="ana", reason="a retry")
    assert again == first
    assert len(registry_store.deployments()) == 1


def test_rollbacks_walk_the_promotions_back_to_the_baseline_then_refuse(registry_store: Store) -> None:
    registry_store.promote(B, by="ana", reason="first")
    registry_store.promote(C, by="ana", reason="second")

    back = registry_store.rollback(BASELINE, by="bo", reason="C misreads 7s")
    assert (back.action, back.version, back.previous_version, back.by) == ("rollback", B, C, "bo")
    assert registry_store.serving_version() == B

    assert registry_store.rollback(BASELINE, by="bo", reason="again").version == BASELINE
    assert registry_store.serving_version() == BASELINE

    with pytest.raises(NothingToRollBackError, match="dk-shipped serves, and no other model served before"):
        registry_store.rollback(BASELINE, by="bo", reason="once more")
    assert registry_store.serving_version() == BASELINE
    assert [d.action for d in registry_store.deployments()] == ["rollback", "rollback", "promote", "promote"]


def test_a_rollback_after_a_rollback_and_a_new_promotion_returns_to_the_one_before(
    registry_store: Store,
) -> None:
    registry_store.promote(B, by="ana", reason="")
    registry_store.rollback(BASELINE, by="ana", reason="")
    registry_store.promote(C, by="ana", reason="")
    assert registry_store.rollback(BASELINE, by="ana", reason="").version == BASELINE


def test_with_nothing_deployed_there_is_nothing_to_roll_back(registry_store: Store) -> None:
    with pytest.raises(NothingToRollBackError, match="nothing to roll back"):
        registry_store.rollback(BASELINE, by="ana", reason="")
    assert registry_store.deployments() == []


def test_registered_models_come_back_with_their_whole_card(registry_store: Store) -> None:
    models = {m.version: m for m in registry_store.registered_models()}
    assert models.keys() == {BASELINE, B, C}
    assert models[B].card == make_card(B)
    assert models[B].registered_at.tzinfo is not None


def test_feedback_is_every_labelled_prediction_of_a_whole_drawing_oldest_first(store: Store) -> None:
    rng = random.Random(5)
    kept = [
        make_record(3, at=T0, rng=rng),
        make_record(6, at=T0 + timedelta(seconds=1), verdict="unsure", rng=rng),
        make_record(8, at=T0 + timedelta(seconds=2), verdict=None, rng=rng),  # before verdicts
        make_record(0, at=T0 + timedelta(seconds=3), verdict="not_a_digit", rng=rng),  # its user says it is
    ]
    left_out = [make_record(1, at=T0 + timedelta(seconds=4), verdict="several_digits", rng=rng)]
    unlabelled = make_record(2, at=T0 + timedelta(seconds=5), rng=rng)
    for record in [*kept, *left_out, unlabelled]:
        store.log_prediction(record)
    labels = [5, 6, 9, 0, 1]
    for record, label in zip([*kept, *left_out], labels, strict=True):
        store.set_true_label(record.id, label, by=ADMIN_KEY_NAME)  # trusted (tests/store/test_ownership.py)

    feedback = store.labelled_feedback()

    assert [f.id for f in feedback] == [r.id for r in kept]
    assert [f.true_label for f in feedback] == [5, 6, 9, 0]
    assert [f.model_input for f in feedback] == [r.model_input for r in kept]
    assert feedback[0].created_at == T0 and feedback[0].model_version == "dk-test"


def test_no_feedback_in_an_empty_log(store: Store) -> None:
    assert store.labelled_feedback() == []
