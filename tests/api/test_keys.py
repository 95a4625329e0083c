"""Scoped keys through the API: who may do what, whose predictions each key sees, labels and
deletes, and the label rate; on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from digit_knower.api import create_app
from digit_knower.cli import main as cli_main
from digit_knower.settings import get_settings
from digit_knower.store import Store
from digit_knower.store.api_keys import ADMIN_KEY_NAME
from digit_knower.store.label_limit import reset_label_rate
from tests.support.api import drawn_one
from tests.support.store import make_record

PROBLEM = "application/problem+json"
ADMIN = {"X-API-Key": "s3cret-admin"}


@pytest.fixture
def keys(database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> Iterator[dict[str, dict[str, str]]]:
    """A migrated database holding three keys, and the X-API-Key header of each."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", ADMIN["X-API-Key"])
    monkeypatch.setenv("DIGIT_KNOWER_LABELS_PER_MINUTE", "5")
    get_settings.cache_clear()
    reset_label_rate()
    assert cli_main(["db", "upgrade"]) == 0
    with Store(database_url, outbox_path=tmp_path / "keys-outbox.sqlite3") as store:
        made = {
            name: {"X-API-Key": store.create_api_key(name, scopes)[1]}
            for name, scopes in [
                ("alice", ["predict", "label", "read"]),
                ("bob", ["predict", "label", "read"]),
                ("reader", ["read"]),
            ]
        }
    yield made
    reset_label_rate()


@pytest.fixture
def client(keys) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def predict(client: TestClient, headers: dict[str, str]) -> dict:
    response = client.post(
        "/v1/predictions", files={"file": ("d.png", drawn_one(), "image/png")}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_each_prediction_records_the_key_that_made_it(client: TestClient, keys) -> None:
    made = predict(client, keys["alice"])
    assert client.get(f"/v1/predictions/{made['id']}", headers=keys["alice"]).json()["owner"] == "alice"
    by_admin = predict(client, ADMIN)
    assert client.get(f"/v1/predictions/{by_admin['id']}", headers=ADMIN).json()["owner"] == ADMIN_KEY_NAME


def test_a_key_sees_and_labels_only_its_own_predictions_and_an_admin_all(client: TestClient, keys) -> None:
    alices, bobs = predict(client, keys["alice"]), predict(client, keys["bob"])

    listed = client.get("/v1/predictions", headers=keys["alice"]).json()["items"]
    assert [p["id"] for p in listed] == [alices["id"]]
    assert {p["id"] for p in client.get("/v1/predictions", headers=ADMIN).json()["items"]} == {
        alices["id"],
        bobs["id"],
    }
    # Someone else's prediction is "not found", exactly as an id that does not exist: ids do not leak.
    for request in (
        lambda: client.get(f"/v1/predictions/{bobs['id']}", headers=keys["alice"]),
        lambda: client.put(f"/v1/predictions/{bobs['id']}/label", json={"label": 7}, headers=keys["alice"]),
        lambda: client.delete(f"/v1/predictions/{bobs['id']}", headers=keys["alice"]),
    ):
        response = request()
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
        assert "no prediction has the id" in response.json()["detail"]
    assert client.get(f"/v1/predictions/{bobs['id']}", headers=ADMIN).json()["true_label"] is None

    labelled = client.put(f"/v1/predictions/{alices['id']}/label", json={"label": 1}, headers=keys["alice"])
    assert labelled.status_code == 200 and labelled.json()["true_label"] == 1
    assert client.get("/v1/stats", headers=keys["reader"]).json()["total"] == 2  # statistics stay global


def test_a_key_without_the_scope_gets_403_naming_it(client: TestClient, keys) -> None:
    response = client.post(
        "/v1/predictions", files={"file": ("d.png", drawn_one(), "image/png")}, headers=keys["reader"]
    )
    assert response.status_code == 403 and "not 'predict'" in response.json()["detail"]
    assert client.get("/v1/predictions", headers=keys["reader"]).json()["items"] == []


def test_the_owner_or_an_admin_deletes_a_prediction(client: TestClient, keys) -> None:
    first, second = predict(client, keys["alice"]), predict(client, keys["alice"])
    assert client.delete(f"/v1/predictions/{first['id']}", headers=keys["alice"]).status_code == 204
    assert client.delete(f"/v1/predictions/{second['id']}", headers=ADMIN).status_code == 204
    for made in (first, second):
        assert client.get(f"/v1/predictions/{made['id']}", headers=ADMIN).status_code == 404
    assert client.delete(f"/v1/predictions/{first['id']}", headers=ADMIN).status_code == 404


def test_a_revoked_or_unknown_key_gets_401(client: TestClient, keys, database_url: str, tmp_path) -> None:
    assert client.get("/v1/predictions", headers={"X-API-Key": "dk_made-up"}).status_code == 401
    assert client.get("/v1/predictions").status_code == 401
    assert cli_main(["keys", "revoke", "reader"]) == 0
    get_settings.cache_clear()
    with TestClient(create_app()) as fresh:  # a fresh process: no cached look-up
        assert fresh.get("/v1/predictions", headers=keys["reader"]).status_code == 401


def basic_password(token: str) -> dict[str, str]:
    """HTTP Basic with any user name and the key as the password, as Prometheus and a browser send it."""
    return {"Authorization": "Basic " + base64.b64encode(f"prometheus:{token}".encode()).decode()}


def test_a_made_key_opens_the_docs_and_with_the_read_scope_the_metrics(client: TestClient, keys) -> None:
    reader, alice = keys["reader"]["X-API-Key"], keys["alice"]["X-API-Key"]
    assert client.get("/openapi.json", headers=keys["alice"]).status_code == 200  # any key
    assert client.get("/metrics", headers=basic_password(reader)).status_code == 200
    assert client.get("/metrics", headers=ADMIN).status_code == 200
    refused = client.get("/metrics", headers=basic_password(alice.replace("dk_", "dk_x")))
    assert refused.status_code == 401
    alices = client.get("/metrics", headers=keys["alice"])  # predict, label, read: read is there
    assert alices.status_code == 200
    predict_only = keys_with(["predict"])
    answer = client.get("/metrics", headers=predict_only)
    assert answer.status_code == 403 and "not 'read'" in answer.json()["detail"]


def keys_with(scopes: list[str]) -> dict[str, str]:
    with Store(get_settings().database_url) as store:
        return {"X-API-Key": store.create_api_key("scraper-" + "-".join(scopes), scopes)[1]}


def test_with_made_keys_and_no_admin_key_the_docs_and_metrics_still_need_a_key(
    keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DIGIT_KNOWER_API_KEY")
    get_settings.cache_clear()
    with TestClient(create_app()) as fresh:
        for path in ("/openapi.json", "/docs", "/metrics"):
            assert fresh.get(path).status_code == 401, path
        assert fresh.get("/openapi.json", headers=keys["bob"]).status_code == 200
        assert fresh.get("/metrics", headers=keys["reader"]).status_code == 200


def test_labels_beyond_the_rate_get_429_with_retry_after_per_key(client: TestClient, keys) -> None:
    made = predict(client, keys["alice"])
    path = f"/v1/predictions/{made['id']}/label"
    for _ in range(5):  # DIGIT_KNOWER_LABELS_PER_MINUTE=5: a burst of five
        assert client.put(path, json={"label": 1}, headers=keys["alice"]).status_code == 200
    refused = client.put(path, json={"label": 1}, headers=keys["alice"])
    assert refused.status_code == 429 and refused.headers["content-type"] == PROBLEM
    assert 1 <= int(refused.headers["Retry-After"]) <= 12  # one label every 60/5 s
    assert "at most 5 a minute" in refused.json()["detail"]
    # Another key has its own bucket.
    assert client.put(path, json={"label": 1}, headers=ADMIN).status_code == 200


def test_a_pruned_prediction_is_served_without_its_picture(
    client: TestClient, keys, database_url: str, tmp_path
) -> None:
    old = make_record(4, at=datetime.now(UTC) - timedelta(days=3)).model_copy(update={"owner": "alice"})
    with Store(database_url, outbox_path=tmp_path / "old-outbox.sqlite3") as store:
        store.log_prediction(old)
    assert cli_main(["db", "prune", "--older-than", "2"]) == 0
    served = client.get(f"/v1/predictions/{old.id}", headers=keys["alice"]).json()
    assert served["model_input"] is None and (served["digit"], served["owner"]) == (4, "alice")
