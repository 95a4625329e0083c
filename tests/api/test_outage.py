"""The API through trouble with its database: ready all along, and nothing left behind.

/readyz says whether the process can answer predictions (the model is loaded and the outbox can
be written), so that a load balancer keeps it in rotation while PostgreSQL is down; what is
degraded goes in the body. The real `digit-knower api` with two workers writes its backlog once
PostgreSQL is back, with no request at all, and stops cleanly.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from digit_knower.api import create_app
from digit_knower.settings import get_settings
from digit_knower.store import Store
from tests.support import servers
from tests.support.api import drawn_one
from tests.support.postgres_server import own_server

GIVE_UP_S = 120  # a deadline for giving up, not a measure (bench/outbox_drain.py measures)
API_ROWS = "SELECT id FROM predictions WHERE source = 'api'"
READINESS_FIELDS = {
    "ready",
    "degraded",
    "model_loaded",
    "model_version",
    "outbox_writable",
    "local_storage_full",
    "detail",
    "database_reachable",
    "outbox_backlog",
    "outbox_foreign",
    "outbox_dead_letters",
}


def post_png(client, **kw):
    return client.post("/v1/predictions", files={"file": ("digit.png", drawn_one(), "image/png")}, **kw)


def test_readyz_needs_no_api_key_and_tells_nothing_about_the_database(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "s3cret-key")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 200
    assert set(ready.json()) == READINESS_FIELDS
    assert "sqlite" not in ready.text and "digit_knower.sqlite3" not in ready.text
    assert "s3cret-key" not in ready.text


def test_records_for_another_database_and_dead_letters_degrade_readyz_but_keep_it_ready(
    sqlite_url: str, tmp_path: Path
) -> None:
    outbox = get_settings().outbox_path
    with Store(f"sqlite:///{tmp_path / 'elsewhere.sqlite3'}", outbox_path=outbox) as elsewhere:
        elsewhere.outbox.append("prediction", "meant-for-elsewhere", "{}")
    with Store(sqlite_url, outbox_path=outbox) as ours:
        ours.outbox.append("prediction", "unreadable", "{not json")  # this database refuses it

    with TestClient(create_app()) as client:
        assert post_png(client).status_code == 201  # the refused record holds nothing up
        started = time.monotonic()
        while (ready := client.get("/readyz")).json()["outbox_dead_letters"] == 0:
            assert time.monotonic() - started < GIVE_UP_S, ready.text  # the flusher retries it
            time.sleep(0.2)

    assert ready.status_code == 200
    body = ready.json()
    assert (body["ready"], body["degraded"], body["database_reachable"]) == (True, True, True)
    assert (body["outbox_backlog"], body["outbox_foreign"], body["outbox_dead_letters"]) == (0, 1, 1)


def test_readyz_is_503_only_when_the_outbox_cannot_be_written(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the state folder should be")
    monkeypatch.setenv("DIGIT_KNOWER_STATE_DIR", str(blocker / "state"))
    get_settings.cache_clear()

    with TestClient(create_app()) as client:
        assert post_png(client).status_code == 201  # the database takes predictions directly
        ready = client.get("/readyz")

    assert ready.status_code == 503
    body = ready.json()
    assert (body["ready"], body["outbox_writable"], body["database_reachable"]) == (False, False, True)
    assert (body["local_storage_full"], body["detail"]) == (False, "the local outbox cannot be written")


@pytest.mark.postgres
def test_the_api_stays_ready_in_an_outage_and_writes_its_backlog_with_no_traffic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with own_server() as server:
        url = server.create_migrated_database()
        env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
        log = tmp_path / "api.log"
        with servers.api(env, log, workers=2) as api, httpx.Client(base_url=api.url) as client:
            server.stop()
            created = [post_png(client) for _ in range(30)]
            assert [r.status_code for r in created] == [201] * 30
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["degraded"] is True and ready.json()["outbox_backlog"] >= 30

            server.start()
            back = time.monotonic()
            ids = {r.json()["id"] for r in created}
            while (landed := {str(row[0]) for row in server.query(url, API_ROWS)}) != ids:  # no request
                assert time.monotonic() - back < GIVE_UP_S, f"{len(landed)} of 30 landed"
                time.sleep(0.1)
            took = time.monotonic() - back
            assert client.get("/readyz").json()["degraded"] is False
        assert api.process.returncode == 0  # SIGTERM: a clean shutdown, flushers stopped
        assert "Traceback" not in api.log_text()
    with capsys.disabled():
        print(f"\n[api outage] 30 predictions landed {took:.1f} s after PostgreSQL was back (2 workers)")
