"""Who did what: owners of predictions, who labelled them, API keys, and labels that never go back
in time; on an SQLite file AND on the real PostgreSQL server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from digit_knower.store import DatabaseUnavailableError, Store, UnknownPredictionError
from digit_knower.store.api_keys import (
    ADMIN_KEY_NAME,
    InvalidApiKeyError,
    KeyRing,
    UnknownApiKeyError,
    token_sha256,
)
from digit_knower.store.tables import api_keys
from tests.support.store import T0, make_record


def owned(digit: int, owner: str | None, seconds: int = 0):
    return make_record(digit, at=T0 + timedelta(seconds=seconds)).model_copy(update={"owner": owner})


def test_each_client_lists_only_its_own_predictions_and_an_admin_lists_all(store: Store) -> None:
    mine, theirs, old = owned(1, "alice", 0), owned(2, "bob", 1), owned(3, None, 2)
    for record in (mine, theirs, old):
        store.log_prediction(record)
    assert [r.id for r in store.recent(owner="alice")] == [mine.id]
    assert [r.id for r in store.recent(owner="bob", labelled=False)] == [theirs.id]
    assert [r.id for r in store.recent()] == [old.id, theirs.id, mine.id]
    assert store.get(mine.id, owner="alice").owner == "alice"
    with pytest.raises(UnknownPredictionError, match="no prediction has the id"):
        store.get(mine.id, owner="bob")


def test_a_client_labels_only_its_own_and_the_label_names_who_gave_it(store: Store) -> None:
    mine = owned(1, "alice")
    store.log_prediction(mine)
    with pytest.raises(UnknownPredictionError, match="no prediction has the id"):  # as for an unknown id
        store.set_true_label(mine.id, 7, owner="bob")
    assert store.get(mine.id).true_label is None

    labelled = store.set_true_label(mine.id, 1, owner="alice")
    assert (labelled.true_label, labelled.labelled_by) == (1, "alice")
    by_admin = store.set_true_label(mine.id, 4, by=ADMIN_KEY_NAME)  # no owner: an admin, any row
    assert (by_admin.true_label, by_admin.labelled_by, by_admin.owner) == (4, ADMIN_KEY_NAME, "alice")
    assert store.get(mine.id) == by_admin


def test_only_the_owner_or_an_admin_deletes_and_a_deleted_prediction_is_gone(store: Store) -> None:
    mine, theirs = owned(1, "alice"), owned(2, "bob", 1)
    store.log_prediction(mine)
    store.log_prediction(theirs)
    with pytest.raises(UnknownPredictionError):
        store.delete_prediction(mine.id, owner="bob")
    store.delete_prediction(mine.id, owner="alice")
    store.delete_prediction(theirs.id)  # an admin
    for record in (mine, theirs):
        with pytest.raises(UnknownPredictionError):  # not from this process's memory either
            store.get(record.id)
    with pytest.raises(UnknownPredictionError):
        store.delete_prediction(mine.id)
    assert store.recent() == []


def test_a_label_replayed_late_never_replaces_a_newer_one(store: Store) -> None:
    record = owned(5, "alice")
    store.log_prediction(record)
    newer = store.set_true_label(record.id, 5, owner="alice")
    # A label given a minute earlier through another replica, queued there during an outage,
    # arrives only now.
    earlier = (newer.labelled_at - timedelta(minutes=1)).isoformat()
    payload = json.dumps({"true_label": 3, "labelled_at": earlier, "labelled_by": "page:late"})
    store.outbox.append("label", str(record.id), payload)
    assert store.flush_outbox() == 1
    kept = store.get(record.id)
    assert (kept.true_label, kept.labelled_at, kept.labelled_by) == (5, newer.labelled_at, "alice")

    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    store.outbox.append("label", str(record.id), json.dumps({"true_label": 6, "labelled_at": later}))
    store.flush_outbox()
    assert store.get(record.id).true_label == 6  # a newer replay does apply


def test_keys_are_created_with_scopes_listed_and_revoked_and_only_their_hash_is_kept(store: Store) -> None:
    key, token = store.create_api_key("reader-app", ["predict", "read"], trusted=False)
    assert key.scopes == {"predict", "read"} and not key.trusted and token.startswith("dk_")
    with store.engine.connect() as connection:
        (row,) = connection.execute(select(api_keys)).all()
    assert row.token_sha256 == token_sha256(token) and token not in repr(tuple(row))

    store.create_api_key("labeller", ["label"], trusted=True)
    assert [(k.name, k.trusted, k.active) for k in store.list_api_keys()] == [
        ("labeller", True, True),
        ("reader-app", False, True),
    ]
    revoked = store.revoke_api_key("reader-app")
    assert revoked.revoked_at is not None and not revoked.active
    with pytest.raises(InvalidApiKeyError, match="exists already"):  # a name is never given again
        store.create_api_key("reader-app", ["read"])
    with pytest.raises(UnknownApiKeyError, match="no key is named 'nobody'"):
        store.revoke_api_key("nobody")


@pytest.mark.parametrize(
    ("name", "scopes", "words"),
    [
        ("Has Spaces", ["read"], "cannot name a key"),
        ("anonymous", ["read"], "cannot name a key"),
        (ADMIN_KEY_NAME, ["read"], "cannot name a key"),
        ("ok", ["write"], "unknown scope 'write'"),
        ("ok", [], "at least one scope"),
    ],
)
def test_a_bad_key_name_or_scope_is_refused_with_the_rule(store: Store, name, scopes, words) -> None:
    with pytest.raises(InvalidApiKeyError, match=words):
        store.create_api_key(name, scopes)


def test_the_key_ring_knows_the_admin_key_the_table_and_a_revocation(store: Store) -> None:
    ring = KeyRing(store, admin_token="s3cret", cache_s=0.0)
    assert ring.required()
    assert ring.find("s3cret").name == ADMIN_KEY_NAME and ring.find("s3cret").trusted
    key, token = store.create_api_key("app", ["predict"])
    assert ring.find(token) == key and ring.find("dk_wrong") is None
    store.revoke_api_key("app")
    assert ring.find(token) is None

    open_ring = KeyRing(store, admin_token=None, cache_s=0.0)
    assert not open_ring.required()  # the only key is revoked: the API is open, as before keys
    store.create_api_key("other", ["read"])
    assert open_ring.required()


def test_the_key_ring_serves_keys_it_has_seen_while_the_database_is_away(store: Store, monkeypatch) -> None:
    ring = KeyRing(store, admin_token=None, cache_s=0.0)
    key, token = store.create_api_key("app", ["predict"])
    assert ring.find(token) == key and ring.required()

    def away(*_args, **_kwargs):
        raise DatabaseUnavailableError("away")

    monkeypatch.setattr(store, "_read", away)
    assert ring.find(token) == key and ring.required()
    with pytest.raises(DatabaseUnavailableError):
        ring.find("dk_never-seen")


def test_retraining_trusts_trusted_keys_the_admin_key_and_labels_the_model_confirmed(store: Store) -> None:
    store.create_api_key("expert", ["label"], trusted=True)
    store.create_api_key("fired", ["label"], trusted=True)
    store.create_api_key("stranger", ["label"])
    cases = {  # (the model read, its verdict, the label, by) -> trusted?
        "expert": ((3, "digit", 5, "expert"), True),
        "admin": ((3, "unsure", 5, ADMIN_KEY_NAME), True),
        "revoked": ((3, "digit", 5, "fired"), False),
        "stranger contradicts": ((3, "digit", 5, "stranger"), False),
        "stranger confirms a sure reading": ((3, "digit", 3, "stranger"), True),
        "stranger confirms an unsure one": ((3, "unsure", 3, "stranger"), False),
        "page contradicts": ((3, "digit", 8, "page:1a2b"), False),
        "before keys": ((3, "digit", 5, None), False),
    }
    ids = {}
    for i, (name, ((digit, verdict, label, by), _)) in enumerate(cases.items()):
        record = make_record(digit, verdict=verdict, at=T0 + timedelta(seconds=i))
        store.log_prediction(record)
        store.set_true_label(record.id, label, by=by)
        ids[record.id] = name
    store.revoke_api_key("fired")

    trusted = {ids[row.id] for row in store.labelled_feedback()}
    assert trusted == {name for name, (_, expected) in cases.items() if expected}
    assert store.untrusted_labels() == len(cases) - len(trusted)
    assert len(store.labelled_feedback(trusted_only=False)) == len(cases)


def test_in_an_outage_a_queued_label_is_still_checked_against_its_owner(tmp_path) -> None:
    unreachable = "postgresql+psycopg://dk:pw@127.0.0.1:1/digit_knower"  # nothing listens on port 1
    with Store(unreachable, outbox_path=tmp_path / "outbox.sqlite3") as store:
        record = owned(4, "alice")
        store.log_prediction(record)  # queued in the outbox
        with pytest.raises(UnknownPredictionError):
            store.set_true_label(record.id, 9, owner="bob")
        labelled = store.set_true_label(record.id, 4, owner="alice")
        assert (labelled.true_label, labelled.labelled_by) == (4, "alice")
        assert json.loads(store.outbox.latest("label", str(record.id)))["labelled_by"] == "alice"
        assert store.get(record.id, owner="alice").true_label == 4
        with pytest.raises(DatabaseUnavailableError):  # never bob's copy, even from this memory
            store.get(record.id, owner="bob")
