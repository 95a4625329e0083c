"""Local storage full: at the outbox's cap, predictions the database cannot take get a clear 503,
/readyz says so in its own words and its own metric, and nothing queued is dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from digit_knower.api import create_app
from digit_knower.settings import get_settings
from digit_knower.store import Store
from digit_knower.store.errors import LocalStorageFullError
from tests.support.api import drawn_one
from tests.support.store import make_record

# Nothing listens on port 1: every connection is refused at once, as in an outage.
UNREACHABLE = "postgresql+psycopg://dk:pw@127.0.0.1:1/digit_knower"


def test_at_the_cap_predictions_are_refused_and_what_is_queued_stays(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_OUTBOX_MAX_MB", "0.02")  # 20 kB: a dozen predictions
    get_settings.cache_clear()
    with Store(UNREACHABLE, outbox_path=tmp_path / "outbox.sqlite3") as store:
        kept = 0
        with pytest.raises(LocalStorageFullError, match=r"local storage full: the outbox .* its cap"):
            for _ in range(1000):
                store.log_prediction(make_record())
                kept += 1
        assert 1 <= kept < 1000 and store.outbox_backlog() == kept  # every acknowledged one stays
        assert store.outbox_problem().startswith("local storage full")
        store.outbox.append("label", "some-id", '{"true_label": 1}')  # a label still fits


def test_the_api_answers_503_local_storage_full_and_readyz_and_the_metric_say_so(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE)
    monkeypatch.setenv("DIGIT_KNOWER_OUTBOX_MAX_MB", "0.000001")  # 1 byte: full after the first record
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        statuses = [
            client.post("/v1/predictions", files={"file": ("d.png", drawn_one(), "image/png")}).status_code
            for _ in range(3)
        ]
        refused = client.post("/v1/predictions", files={"file": ("d.png", drawn_one(), "image/png")})
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
    assert statuses.count(503) >= 2  # the model card queued at start may have filled it already
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "30"
    assert refused.json()["detail"].startswith("Local storage full")
    assert ready.status_code == 503
    body = ready.json()
    assert (body["ready"], body["local_storage_full"], body["detail"]) == (False, True, "local storage full")
    assert str(tmp_path) not in ready.text
    assert "digit_knower_local_storage_full 1.0" in metrics
