"""Prometheus metrics: what the API and the page's process expose, read as Prometheus reads them.

In-process (FastAPI's test client) for what one process counts; as real `digit-knower api`
subprocesses for what several uvicorn workers add up to, and for the metrics on their own port.
Counters are process-wide, so in-process tests compare before and after.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from digit_knower import Predictor
from digit_knower.api import create_app
from digit_knower.cli import main as cli_main
from digit_knower.serving import metrics
from digit_knower.settings import get_settings
from digit_knower.store.outbox import DEAD_LETTER_AFTER, Outbox
from tests.support import servers
from tests.support.api import blank_png, drawn_one
from tests.support.metrics import Samples, parse, value
from tests.support.postgres_server import free_port
from tests.support.store import POISON_LATENCY_MS, make_record, open_store, queue_prediction, refuse_poison


def scrape(client: TestClient | httpx.Client, path: str = "/metrics", **options: Any) -> Samples:
    response = client.get(path, **options)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


@pytest.fixture
def api_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An embedded SQLite database, migrated; settings are read afresh for each app."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    for name, setting in env.items():
        monkeypatch.setenv(name, setting)
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    return env


@pytest.fixture
def client(api_env: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


# --- one process -------------------------------------------------------------------------------


def test_metrics_take_the_api_key_and_count_predictions_requests_and_core_timings(
    api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "s3cret")
    get_settings.cache_clear()
    key = {"X-API-Key": "s3cret"}
    with TestClient(create_app()) as client:
        before = scrape(client, headers=key)
        for _ in range(3):
            created = client.post("/v1/predictions", files={"file": ("1.png", drawn_one())}, headers=key)
            assert created.status_code == 201, created.text
        digit = str(created.json()["digit"])
        assert (
            client.post("/v1/predictions", files={"file": ("b.png", blank_png())}, headers=key).status_code
            == 400
        )
        assert client.get("/v1/stats").status_code == 401
        after = scrape(client, headers=key)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    post = {"method": "POST", "route": "/v1/predictions"}
    assert grew("digit_knower_http_requests_total", **post, status="201") == 3
    assert grew("digit_knower_http_requests_total", **post, status="400") == 1
    assert grew("digit_knower_http_requests_total", method="GET", route="/v1/stats", status="401") == 1
    assert grew("digit_knower_http_request_duration_seconds_count", **post, status="201") == 3
    assert grew("digit_knower_predictions_total", source="api", verdict="digit") == 3
    assert grew("digit_knower_digits_read_total", source="api", digit=digit) == 3
    # The blank picture was preprocessed (and refused) too; the model ran for the three others:
    # once each, or twice where the reader takes its second look (`second_look`: a model that
    # gives this drawn 1 a "not a digit" share above 5% looks again).
    assert grew("digit_knower_preprocess_seconds_count") == 4
    assert grew("digit_knower_model_seconds_count") in (3, 6)
    assert grew("digit_knower_preprocess_seconds_sum") > 0
    assert value(after, "digit_knower_model_info", version=Predictor.load().model_version) == 1
    assert value(after, "digit_knower_outbox_backlog") == 0


def test_with_a_key_set_metrics_on_the_api_port_need_it_in_the_header_or_as_basic_password(
    api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """They were open to anyone who reached the API's port (issue 21). Prometheus sends a key as
    its basic_auth password."""
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "s3cret")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        for refused in [{}, {"headers": {"X-API-Key": "wrong"}}, {"auth": ("prometheus", "wrong")}]:
            answer = client.get("/metrics", **refused)
            assert answer.status_code == 401, refused
            assert answer.headers["content-type"] == "application/problem+json"
            assert "basic_auth" in answer.json()["detail"]
            assert "digit_knower_" not in answer.text
        version = Predictor.load().model_version
        for given in [{"headers": {"X-API-Key": "s3cret"}}, {"auth": ("prometheus", "s3cret")}]:
            assert value(scrape(client, **given), "digit_knower_model_info", version=version) == 1


def test_unknown_paths_count_as_unmatched_not_one_series_each(client: TestClient) -> None:
    for n in range(3):
        assert client.get(f"/no/such/page/{n}").status_code == 404
    samples = scrape(client)
    routes = {
        dict(labels).get("route") for name, labels in samples if name == "digit_knower_http_requests_total"
    }
    assert "unmatched" in routes
    assert not any(route and route.startswith("/no/") for route in routes)


def test_the_outbox_backlog_is_what_waits_for_the_database(tmp_path: Path, monkeypatch) -> None:
    """PostgreSQL that nobody listens on: the prediction waits in the outbox, and the gauge says so."""
    monkeypatch.setenv("DATABASE_URL", f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/gone")
    monkeypatch.setenv("DIGIT_KNOWER_STATE_DIR", str(tmp_path))
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.post("/v1/predictions", files={"file": ("1.png", drawn_one())}).status_code == 201
        samples = scrape(client)
    # The model card waits too, ahead of the prediction that cites it.
    assert value(samples, "digit_knower_outbox_backlog") == 2


def test_the_outbox_gauges_count_dead_letters_and_entries_for_other_databases(tmp_path: Path) -> None:
    """What an operator must see: records refused for good, and records for another database."""
    url, outbox = f"sqlite:///{tmp_path / 'log.sqlite3'}", tmp_path / "outbox.sqlite3"
    store = open_store(url, outbox)
    refuse_poison(url)
    queue_prediction(store, 2, latency_ms=POISON_LATENCY_MS)
    for _ in range(DEAD_LETTER_AFTER):
        store.flush_outbox()
    stranger = make_record(5)
    Outbox(outbox, "sqlite:///elsewhere.sqlite3").append(
        "prediction", str(stranger.id), stranger.model_dump_json()
    )
    metrics.watch_store(store)
    try:
        samples = parse(generate_latest(REGISTRY).decode())
    finally:
        metrics.watch_store(None)
        store.close()
    assert value(samples, "digit_knower_outbox_dead_letters") == 1
    assert value(samples, "digit_knower_outbox_foreign") == 1
    assert value(samples, "digit_knower_outbox_backlog") == 0


def test_metrics_can_be_switched_off(api_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_METRICS", "false")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.get("/metrics").status_code == 404


def test_with_a_metrics_port_the_api_port_has_no_metrics(api_env: dict[str, str], monkeypatch) -> None:
    monkeypatch.setenv("DIGIT_KNOWER_METRICS_PORT", str(free_port()))
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        assert client.get("/metrics").status_code == 404


# --- real servers ------------------------------------------------------------------------------


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A fresh embedded database and state folder, and a temporary folder of its own."""
    (tmp_path / "tmp").mkdir()
    return {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'api.sqlite3'}",
        "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state"),
        "TMPDIR": str(tmp_path / "tmp"),
        **extra,
    }


def post_ones(base_url: str, count: int, headers: dict[str, str] | None = None) -> None:
    # A new connection for each, so that the requests spread over the workers.
    for _ in range(count):
        picture = {"file": ("1.png", drawn_one())}
        response = httpx.post(f"{base_url}/v1/predictions", files=picture, headers=headers)
        assert response.status_code == 201, response.text


def test_two_workers_report_the_whole_servers_counts_whichever_answers_the_scrape(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    with servers.api(env, tmp_path / "api.log", workers=2) as server:
        post_ones(server.url, 40)
        per_worker = predictions_per_process(tmp_path / "tmp")
        # Scrapes on fresh connections: whichever worker answers, it reports the server's total.
        totals = set()
        for _ in range(10):
            with httpx.Client() as fresh:
                samples = scrape(fresh, f"{server.url}/metrics")
            totals.add(value(samples, "digit_knower_predictions_total", source="api", verdict="digit"))
    assert len([n for n in per_worker.values() if n > 0]) == 2, f"one worker took all: {per_worker}"
    assert sum(per_worker.values()) == 40
    assert totals == {40}, server.tail()
    assert list((tmp_path / "tmp").glob("digit-knower-metrics-*")) == [], "the folder is removed at exit"


def predictions_per_process(tmp: Path) -> dict[str, float]:
    """What each process of the server counted, read from its own file in the multiprocess folder."""
    (folder,) = tmp.glob("digit-knower-metrics-*")
    counts = {}
    for file in folder.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(file)]):
            counts[file.stem] = counts.get(file.stem, 0.0) + sum(
                s.value for s in metric.samples if s.name == "digit_knower_predictions_total"
            )
    return counts


def test_metrics_on_their_own_port_add_up_every_worker_and_need_no_key(tmp_path: Path) -> None:
    """The port of their own is for the cluster's Prometheus only (the chart's NetworkPolicy)."""
    port = free_port()
    env = server_env(tmp_path, DIGIT_KNOWER_METRICS_PORT=str(port), DIGIT_KNOWER_API_KEY="s3cret")
    with servers.api(env, tmp_path / "api.log", workers=2) as server:
        post_ones(server.url, 6, headers={"X-API-Key": "s3cret"})
        assert httpx.get(f"{server.url}/metrics").status_code == 404
        samples = scrape(httpx.Client(), f"http://127.0.0.1:{port}/metrics")
    assert value(samples, "digit_knower_predictions_total", source="api", verdict="digit") == 6
    post = {"method": "POST", "route": "/v1/predictions", "status": "201"}
    assert value(samples, "digit_knower_http_requests_total", **post) == 6
    assert value(samples, "digit_knower_outbox_backlog") == 0
    assert value(samples, "digit_knower_model_info", version=Predictor.load().model_version) == 1


def test_a_busy_metrics_port_stops_the_api_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = {**os.environ, **server_env(tmp_path, DIGIT_KNOWER_METRICS_PORT=str(taken.getsockname()[1]))}
        argv = [servers.digit_knower_command(), "api", "--host", "127.0.0.1", "--port", str(free_port())]
        result = subprocess.run(
            argv, env=env, capture_output=True, text=True, timeout=servers.STARTUP_DEADLINE_S
        )
    assert result.returncode == 1
    assert "cannot serve the metrics on port" in result.stderr and "Traceback" not in result.stderr


def test_the_page_process_serves_its_metrics_on_a_port_of_its_own(tmp_path: Path) -> None:
    port = free_port()
    env = {**server_env(tmp_path), "DIGIT_KNOWER_WEB_METRICS_PORT": str(port)}
    with servers.page(env, tmp_path / "page.log") as server:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert response.status_code == 200, server.tail()
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "digit_knower_predictions",
        "digit_knower_digits_read",
        "digit_knower_preprocess_seconds",
    } <= families


def test_a_metrics_port_that_is_not_a_port_is_named_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, **server_env(tmp_path, DIGIT_KNOWER_METRICS_PORT="90000")}
    result = subprocess.run([servers.digit_knower_command(), "api"], env=env, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("digit-knower: DIGIT_KNOWER_METRICS_PORT='90000' is not valid")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
