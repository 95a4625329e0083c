"""Idempotent predictions: a retry with the same Idempotency-Key gets the first answer and logs
nothing new; the key's binding lives in the database, on SQLite and on a real PostgreSQL.

(Retries across the two workers of a real server are in test_api_server.py.)
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select

from digit_knower.api import create_app
from digit_knower.cli import main as cli_main
from digit_knower.serving.idempotency import picture_sha256, prediction_id
from digit_knower.settings import get_settings
from digit_knower.store import Store
from digit_knower.store.idempotency_keys import KEY_TTL, IdempotencyKeys, _bind
from digit_knower.store.tables import idempotency_keys
from tests.support.api import blank_png, drawn_one, one_pixels
from tests.support.postgres_server import PostgresServer
from tests.support.store import make_record

PROBLEM = "application/problem+json"


# --- The derived id -------------------------------------------------------------------------


def test_the_prediction_id_is_a_uuidv8_fixed_by_the_key_and_the_picture():
    first = prediction_id("key-1", picture_sha256(drawn_one()))
    assert first.version == 8 and first.variant == uuid.RFC_4122
    assert first == prediction_id("key-1", picture_sha256(drawn_one()))
    assert first != prediction_id("key-2", picture_sha256(drawn_one()))
    assert first != prediction_id("key-1", picture_sha256(drawn_one("JPEG")))


def test_pixels_are_fingerprinted_with_their_shape():
    pixels = np.zeros((28, 28), np.uint8)
    assert picture_sha256(pixels) == picture_sha256(pixels.copy())
    assert picture_sha256(pixels) != picture_sha256(pixels.reshape(14, 56))


# --- The keys in the database -----------------------------------------------------------------


def test_a_key_is_bound_to_the_first_picture_it_comes_with(store: Store):
    keys = IdempotencyKeys(store)
    first_id, other_id = uuid.uuid4(), uuid.uuid4()

    first = keys.bind("k", "a" * 64, first_id)
    again = keys.bind("k", "b" * 64, other_id)

    assert (first.picture_sha256, first.prediction_id) == ("a" * 64, first_id)
    assert (again.picture_sha256, again.prediction_id) == ("a" * 64, first_id)


def test_a_key_bound_more_than_24_hours_ago_is_free_again(store: Store):
    long_ago = datetime.now(UTC) - KEY_TTL - timedelta(minutes=1)
    store._read(_bind, "k", "a" * 64, uuid.uuid4(), long_ago)

    binding = IdempotencyKeys(store).bind("k", "b" * 64, uuid.uuid4())

    assert binding.picture_sha256 == "b" * 64


def test_expired_keys_are_deleted_by_the_next_bind(store: Store):
    long_ago = datetime.now(UTC) - KEY_TTL - timedelta(minutes=1)
    for key in ("old-1", "old-2"):
        store._read(_bind, key, "a" * 64, uuid.uuid4(), long_ago)

    IdempotencyKeys(store).bind("new", "a" * 64, uuid.uuid4())

    with store.engine.connect() as connection:
        assert connection.execute(select(idempotency_keys.c.key)).scalars().all() == ["new"]


def test_binds_of_one_key_at_once_all_see_the_same_binding(store: Store):
    keys, start = IdempotencyKeys(store), threading.Barrier(6)
    bindings, errors = [], []

    def bind(n: int) -> None:
        start.wait()
        try:
            bindings.append(keys.bind("shared", f"{n:064d}", uuid.uuid4()))
        except Exception as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=bind, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({(b.picture_sha256, b.prediction_id) for b in bindings}) == 1


def test_no_binding_is_made_or_awaited_while_the_database_is_down(tmp_path: Path):
    with Store("postgresql+psycopg://nobody@127.0.0.1:1/none", outbox_path=tmp_path / "o.sqlite3") as store:
        assert IdempotencyKeys(store).bind("k", "a" * 64, uuid.uuid4()) is None


def test_migration_0004_adds_the_key_table_and_keeps_every_prediction(database_url: str, tmp_path: Path):
    with Store(database_url, outbox_path=tmp_path / "o.sqlite3", auto_migrate=False) as store:
        store.upgrade("0002")
        old = make_record(3)
        store.log_prediction(old)
        store.upgrade("0004")
        assert "idempotency_keys" in inspect(store.engine).get_table_names()
        assert store.get(old.id) == old
        store.downgrade("0002")
        assert "idempotency_keys" not in inspect(store.engine).get_table_names()
        store.upgrade("0004")
        assert store.get(old.id) == old


# --- Through the API --------------------------------------------------------------------------


@pytest.fixture
def client(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    with TestClient(create_app()) as c:
        yield c


def post(client: TestClient, picture: bytes, key: str | None):
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post("/v1/predictions", files={"file": ("d.png", picture, "image/png")}, headers=headers)


def logged(client: TestClient) -> int:
    return client.get("/v1/stats").json()["total"]


def test_a_retry_with_the_same_key_gets_the_first_answer_and_logs_nothing_new(client: TestClient):
    first = post(client, drawn_one(), "retry-1")
    retries = [post(client, drawn_one(), "retry-1"), post(client, drawn_one(), '"retry-1"')]

    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    for retry in retries:
        assert retry.status_code == 201
        assert retry.headers["idempotent-replayed"] == "true"
        assert retry.json() == first.json()
    assert logged(client) == 1
    stored = client.get(f"/v1/predictions/{first.json()['id']}").json()
    assert stored["latency_ms"] == first.json()["latency_ms"]


def test_the_same_picture_with_another_key_or_none_is_a_new_prediction(client: TestClient):
    ids = {post(client, drawn_one(), key).json()["id"] for key in ("a", "b", None, None)}
    assert len(ids) == 4
    assert logged(client) == 4


def test_the_same_key_with_another_picture_gets_422_and_logs_nothing(client: TestClient):
    post(client, drawn_one(), "reused")
    response = post(client, drawn_one("JPEG"), "reused")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert "another picture" in response.json()["detail"]
    key = {"Idempotency-Key": "reused"}
    assert client.post("/v1/predictions", json={"pixels": one_pixels()}, headers=key).status_code == 422
    assert logged(client) == 1


def test_a_picture_that_cannot_be_read_leaves_its_key_free(client: TestClient):
    assert post(client, blank_png(), "fix-me").status_code == 400
    assert post(client, drawn_one(), "fix-me").status_code == 201
    assert logged(client) == 1


@pytest.mark.parametrize("key", ["has space", "x" * 256, "tab\there", "é"])
def test_a_malformed_key_gets_422_naming_the_header(client: TestClient, key: str):
    response = client.post(
        "/v1/predictions",
        files={"file": ("d.png", drawn_one(), "image/png")},
        headers={"Idempotency-Key": key.encode("utf-8")},
    )
    assert response.status_code == 422, response.text
    assert "Idempotency-Key" in response.json()["detail"]
    assert logged(client) == 0


@pytest.mark.postgres
def test_retries_during_a_database_outage_log_the_prediction_once(
    own_postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
):
    server = own_postgres
    monkeypatch.setenv("DATABASE_URL", server.url())
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    with TestClient(create_app()) as client:
        server.stop()
        first = post(client, drawn_one(), "outage")
        during = post(client, drawn_one(), "outage")
        assert first.status_code == during.status_code == 201
        assert during.json() == first.json()  # this process still holds the first answer

        server.start()
        stats = client.get("/v1/stats")
        for _ in range(60):  # the store backs off for up to 10 s after the outage
            if stats.status_code == 200:
                break
            time.sleep(0.5)
            stats = client.get("/v1/stats")
        assert stats.json()["total"] == 1  # the outbox is flushed: the prediction, once

        after = post(client, drawn_one(), "outage")
        assert after.json() == first.json()
        assert after.headers["idempotent-replayed"] == "true"
        assert logged(client) == 1
