"""The REST API, end to end through FastAPI's test client, on SQLite and on a real PostgreSQL.

The test client re-raises any exception that reaches the server's catch-all handler, so every
test here also shows that its input never produces a 500.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from digit_knower.api import create_app
from digit_knower.cli import main as cli_main
from digit_knower.settings import get_settings
from tests.support.api import blank_png, drawn_one, drawn_one_and_zero, one_pixels

PROBLEM = "application/problem+json"


@pytest.fixture
def db_url(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The API's database, migrated the way an operator does it."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    assert cli_main(["db", "upgrade"]) == 0
    return database_url


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app()) as c:
        yield c


def post_png(client: TestClient, data: bytes, content_type: str = "image/png", **kw):
    return client.post("/v1/predictions", files={"file": ("digit.png", data, content_type)}, **kw)


def assert_problem(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"] and body["type"]
    for word in words:
        assert word.lower() in body["detail"].lower(), body["detail"]
    return body


# --- POST /v1/predictions: the three forms -------------------------------------------------------


def test_a_png_upload_is_read_and_logged_with_source_api(client: TestClient) -> None:
    response = post_png(client, drawn_one())

    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "digit",
        "confidence",
        "probabilities",
        "model_version",
        "latency_ms",
        "verdict",
        "digits",
        "message",
    }
    assert body["digit"] == 1
    assert (body["verdict"], body["digits"], body["message"]) == ("digit", [1], "It's a 1.")
    assert body["confidence"] == max(body["probabilities"])
    assert sum(body["probabilities"]) == pytest.approx(1.0)
    assert body["model_version"] == client.get("/v1/model").json()["version"]
    assert body["latency_ms"] > 0

    logged = client.get(f"/v1/predictions/{body['id']}").json()
    assert logged["source"] == "api"
    assert logged["digit"] == 1
    assert (logged["verdict"], logged["digits"], logged["message"]) == ("digit", [1], "It's a 1.")
    assert logged["true_label"] is None
    assert len(base64.b64decode(logged["model_input"])) == 28 * 28
    assert logged["part_inputs"] is None  # one digit: `model_input` is its picture


def test_several_digits_are_logged_with_the_picture_of_each_digit(client: TestClient) -> None:
    created = post_png(client, drawn_one_and_zero()).json()
    assert (created["verdict"], created["digits"]) == ("several_digits", [1, 0])

    logged = client.get(f"/v1/predictions/{created['id']}").json()
    parts = [base64.b64decode(part) for part in logged["part_inputs"]]
    assert [len(part) for part in parts] == [28 * 28, 28 * 28]  # one a digit, left to right
    assert parts[0] == base64.b64decode(logged["model_input"])  # the first is the one it always gave
    assert parts[0] != parts[1]
    (listed,) = client.get("/v1/predictions").json()["items"]
    assert listed["part_inputs"] == logged["part_inputs"]


def test_a_jpeg_upload_is_read(client: TestClient) -> None:
    response = post_png(client, drawn_one("JPEG"), "image/jpeg")
    assert response.status_code == 201, response.text
    assert response.json()["digit"] == 1


@pytest.mark.parametrize("prefix", ["", "data:image/png;base64,"])
def test_base64_json_is_read(client: TestClient, prefix: str) -> None:
    image = prefix + base64.b64encode(drawn_one()).decode()
    response = client.post("/v1/predictions", json={"image": image})
    assert response.status_code == 201, response.text
    assert response.json()["digit"] == 1


def test_28x28_pixels_are_read(client: TestClient) -> None:
    response = client.post("/v1/predictions", json={"pixels": one_pixels()})
    assert response.status_code == 201, response.text
    assert response.json()["digit"] == 1


# --- POST /v1/predictions: what it refuses ---------------------------------------------------------


def test_bytes_that_are_not_a_picture_get_400(client: TestClient) -> None:
    assert_problem(post_png(client, b"this is not a png at all"), 400)
    image = base64.b64encode(b"GIF? no, just text").decode()
    assert_problem(client.post("/v1/predictions", json={"image": image}), 400)


def test_a_blank_picture_gets_400(client: TestClient) -> None:
    from_upload = assert_problem(post_png(client, blank_png()), 400)
    from_pixels = assert_problem(client.post("/v1/predictions", json={"pixels": [[0] * 28] * 28}), 400)
    # The core's EmptyImageError speaks for both forms, and differs from the not-a-picture message.
    assert from_upload["detail"] == from_pixels["detail"]
    assert from_upload["detail"] != post_png(client, b"not a picture").json()["detail"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"image": ', ["not valid json"]),
        (b'{"picture": "abc"}', ['"image"', '"pixels"']),
        (b"[1, 2, 3]", ['"image"', '"pixels"']),
        (b'{"image": "***not base64***"}', ["base64"]),
        (b'{"image": 42}', ["image"]),
        (b'{"image": "aGk=", "pixels": []}', []),
        (b"\xff\xfe{}", ["not valid json"]),
        (b"[" * 100_000, ["nested too deeply"]),
        (b'{"pixels": [[' + b"9" * 5000 + b"]]}", ["not valid json", "digits"]),
    ],
)
def test_malformed_json_gets_422(client: TestClient, content: bytes, words: list[str]) -> None:
    response = client.post("/v1/predictions", content=content, headers={"content-type": "application/json"})
    assert_problem(response, 422, *words)


@pytest.mark.parametrize(
    "pixels",
    [
        [[0] * 28] * 27,  # 27 rows
        [[0] * 27] * 28,  # 27 columns
        [[256] * 28] * 28,  # out of range
        [[-1] * 28] * 28,
        [["a"] * 28] * 28,
        [[0.5] * 28] * 28,
    ],
)
def test_pixels_of_the_wrong_shape_or_range_get_422(client: TestClient, pixels: list) -> None:
    body = assert_problem(client.post("/v1/predictions", json={"pixels": pixels}), 422, "pixels")
    assert body["errors"][0]["loc"][:2] == ["body", "pixels"]


def test_multipart_without_a_file_part_gets_422(client: TestClient) -> None:
    response = client.post("/v1/predictions", data={"note": "no file here"}, files={"other": ("x", b"1")})
    assert_problem(response, 422, "'file'")


@pytest.mark.parametrize(
    "headers", [{"content-type": "text/plain"}, {"content-type": "application/xml"}, {"content-type": ""}]
)
def test_unsupported_content_types_get_415(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post("/v1/predictions", content=drawn_one(), headers=headers)
    assert_problem(response, 415, "multipart/form-data", "application/json")


@pytest.mark.parametrize("declared", ["image/png", "image/gif", "application/octet-stream", "text/plain"])
def test_the_format_is_read_from_the_bytes_whatever_type_the_part_declares(
    client: TestClient, declared: str
) -> None:
    for fmt in ("PNG", "JPEG", "WEBP"):
        assert post_png(client, drawn_one(fmt), declared).status_code == 201, fmt
    assert_problem(post_png(client, drawn_one("GIF"), declared), 415, "GIF", "PNG, JPEG or WebP")
    assert_problem(post_png(client, b"hello", declared), 400, "not a picture")


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO"])
def test_pictures_in_other_formats_get_415_naming_their_format_in_every_form(
    client: TestClient, fmt: str
) -> None:
    picture = drawn_one(fmt)
    assert_problem(post_png(client, picture, f"image/{fmt.lower()}"), 415, fmt, "PNG, JPEG or WebP")
    as_json = {"image": base64.b64encode(picture).decode()}
    assert_problem(client.post("/v1/predictions", json=as_json), 415, fmt)


def test_an_upload_over_2_mb_gets_413(client: TestClient) -> None:
    big = b"\x89PNG" + bytes(2 * 1024 * 1024)
    assert_problem(post_png(client, big), 413, "2 MB")


def test_a_chunked_body_over_2_mb_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        for _ in range(40):
            yield b"x" * 65536

    response = client.post("/v1/predictions", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "2 MB")


# --- Labels, listing, stats, model -----------------------------------------------------------------


def test_a_label_is_stored_and_returned(client: TestClient) -> None:
    created = post_png(client, drawn_one()).json()

    response = client.put(f"/v1/predictions/{created['id']}/label", json={"label": 7})

    assert response.status_code == 200, response.text
    record = response.json()
    assert record["id"] == created["id"]
    assert record["true_label"] == 7
    assert record["labelled_at"] is not None
    assert client.get(f"/v1/predictions/{created['id']}").json()["true_label"] == 7


@pytest.mark.parametrize("label", [10, -1, "7", 3.5, None])
def test_a_label_outside_0_to_9_gets_422(client: TestClient, label: object) -> None:
    created = post_png(client, drawn_one()).json()
    response = client.put(f"/v1/predictions/{created['id']}/label", json={"label": label})
    assert_problem(response, 422, "label")
    assert client.get(f"/v1/predictions/{created['id']}").json()["true_label"] is None


def test_malformed_label_json_gets_422(client: TestClient) -> None:
    created = post_png(client, drawn_one()).json()
    response = client.put(
        f"/v1/predictions/{created['id']}/label",
        content=b"{label: 3",
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 422)


def test_unknown_ids_get_404(client: TestClient) -> None:
    unknown = uuid.uuid4()
    assert_problem(client.get(f"/v1/predictions/{unknown}"), 404, str(unknown))
    assert_problem(client.put(f"/v1/predictions/{unknown}/label", json={"label": 3}), 404, str(unknown))


def test_an_id_that_is_not_a_uuid_gets_422(client: TestClient) -> None:
    body = assert_problem(client.get("/v1/predictions/not-a-uuid"), 422, "uuid")
    assert body["errors"][0]["loc"] == ["path", "prediction_id"]


def test_the_list_is_newest_first_and_filters_by_label(client: TestClient) -> None:
    ids = [post_png(client, drawn_one()).json()["id"] for _ in range(3)]
    client.put(f"/v1/predictions/{ids[1]}/label", json={"label": 1})

    page = client.get("/v1/predictions").json()
    assert [r["id"] for r in page["items"]] == ids[::-1]
    assert (page["limit"], page["offset"]) == (20, 0)
    assert [r["id"] for r in client.get("/v1/predictions?limit=1&offset=1").json()["items"]] == [ids[1]]
    assert [r["id"] for r in client.get("/v1/predictions?labelled=true").json()["items"]] == [ids[1]]
    assert [r["id"] for r in client.get("/v1/predictions?labelled=false").json()["items"]] == [ids[2], ids[0]]


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "offset=-1", f"offset={10**30}", "labelled=maybe", "limit=ten"]
)
def test_list_parameters_out_of_bounds_get_422(client: TestClient, query: str) -> None:
    assert_problem(client.get(f"/v1/predictions?{query}"), 422, query.split("=")[0])


def test_stats_count_labelled_and_correct_predictions(client: TestClient) -> None:
    right, wrong, _unlabelled = (post_png(client, drawn_one()).json() for _ in range(3))
    client.put(f"/v1/predictions/{right['id']}/label", json={"label": right["digit"]})
    client.put(f"/v1/predictions/{wrong['id']}/label", json={"label": (wrong["digit"] + 1) % 10})

    stats = client.get("/v1/stats").json()

    assert (stats["total"], stats["labelled"], stats["correct"]) == (3, 2, 1)
    assert stats["accuracy"] == pytest.approx(0.5)
    assert stats["confusion"][right["digit"]][right["digit"]] == 1


def test_the_model_card_is_the_served_model(client: TestClient) -> None:
    card = client.get("/v1/model").json()
    assert card["version"] == post_png(client, drawn_one()).json()["model_version"]
    assert 0.9 < card["test_accuracy"] <= 1


# --- Probes, unknown routes, the documentation -----------------------------------------------------


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "degraded": False,
        "model_loaded": True,
        "model_version": client.get("/v1/model").json()["version"],
        "outbox_writable": True,
        "local_storage_full": False,
        "detail": None,
        "database_reachable": True,
        "outbox_backlog": 0,
        "outbox_foreign": 0,
        "outbox_dead_letters": 0,
    }


def test_unknown_routes_and_methods_get_problem_documents(client: TestClient) -> None:
    assert_problem(client.get("/v2/predictions"), 404, "/v2/predictions", "/docs")
    body = assert_problem(client.delete("/v1/predictions"), 405, "DELETE")
    assert "GET" in body["detail"] and "POST" in body["detail"]


def test_the_openapi_document_declares_problems_and_the_api_key(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    scheme = spec["components"]["securitySchemes"]["APIKeyHeader"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "X-API-Key")
    assert scheme["description"].startswith("Required when the server sets DIGIT_KNOWER_API_KEY")
    post = spec["paths"]["/v1/predictions"]["post"]
    assert set(post["requestBody"]["content"]) == {"multipart/form-data", "application/json"}
    for status in ("400", "413", "415", "422"):
        assert PROBLEM in post["responses"][status]["content"]
    assert client.get("/docs").status_code == 200


# --- The API key -----------------------------------------------------------------------------------


@pytest.fixture
def keyed_client(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("DIGIT_KNOWER_API_KEY", "s3cret-key")
    get_settings.cache_clear()
    with TestClient(create_app()) as c:
        yield c


@pytest.mark.parametrize(
    "headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": ""}, {"X-API-Key": "s3cret-key "}]
)
def test_with_an_api_key_set_requests_without_it_get_401(keyed_client: TestClient, headers: dict) -> None:
    assert_problem(post_png(keyed_client, drawn_one(), headers=headers), 401, "X-API-Key")
    for path in ("/v1/predictions", "/v1/stats", "/v1/model"):
        assert_problem(keyed_client.get(path, headers=headers), 401)
    assert keyed_client.get("/v1/predictions").status_code == 401


def test_with_an_api_key_set_the_right_key_opens_every_endpoint(keyed_client: TestClient) -> None:
    key = {"X-API-Key": "s3cret-key"}
    created = post_png(keyed_client, drawn_one(), headers=key)
    assert created.status_code == 201
    label_path = f"/v1/predictions/{created.json()['id']}/label"
    assert keyed_client.put(label_path, json={"label": 1}, headers=key).status_code == 200
    for path in ("/v1/predictions", "/v1/stats", "/v1/model", "/readyz"):
        assert keyed_client.get(path, headers=key).status_code == 200, path


def test_the_probes_stay_open_with_an_api_key_set(keyed_client: TestClient) -> None:
    """Kubernetes and load balancers cannot send a key."""
    assert keyed_client.get("/healthz").status_code == 200
    assert keyed_client.get("/readyz").status_code == 200


# --- Start-up and outages --------------------------------------------------------------------------


@pytest.mark.postgres
def test_an_out_of_date_postgres_schema_stops_start_up_with_one_line(
    postgres, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", postgres.create_database())  # never migrated
    get_settings.cache_clear()

    assert cli_main(["api", "--port", "1"]) == 1

    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "digit-knower db upgrade" in err


@pytest.mark.postgres
def test_a_database_down_at_start_does_not_stop_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.postgres_server import PostgresServer

    server = PostgresServer()  # our own, so the shared server stays up
    server.start()
    try:
        monkeypatch.setenv("DATABASE_URL", server.url())
        get_settings.cache_clear()
        assert cli_main(["db", "upgrade"]) == 0
        server.stop()

        with TestClient(create_app()) as client:
            created = post_png(client, drawn_one())
            assert created.status_code == 201
            assert created.json()["digit"] == 1

            ready = client.get("/readyz")
            assert ready.status_code == 200  # it answers predictions: stay in rotation
            assert ready.json()["degraded"] is True
            assert ready.json()["database_reachable"] is False
            assert ready.json()["outbox_backlog"] >= 1  # the prediction (and the model card) wait
            assert_problem(client.get("/v1/predictions"), 503, "database")

            server.start()
            # The store backs off between retries (up to 5 s), so the database is back within seconds.
            ready = client.get("/readyz")
            for _ in range(60):
                if not ready.json()["degraded"]:
                    break
                time.sleep(0.5)
                ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["database_reachable"] is True

            # Not degraded any more: the flusher wrote the prediction made during the outage.
            listed = client.get("/v1/predictions").json()["items"]
            assert [r["id"] for r in listed] == [created.json()["id"]]
            assert client.get("/readyz").json()["outbox_backlog"] == 0
    finally:
        server.destroy()


def test_an_unexpected_error_is_a_logged_problem_document_not_a_stack_trace(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # No input reaches this handler (every other test would fail if one did), so break the model.
    services = client.app.state.services

    def broken(image: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(services.predictor, "predict", broken)
    with TestClient(client.app, raise_server_exceptions=False) as bare:
        response = post_png(bare, drawn_one())

    body = assert_problem(response, 500, "logged")
    assert "a bug" not in body["detail"]
    assert "RuntimeError: a bug" in caplog.text


# --- The body limit, at the ASGI level: refused before it is read ----------------------------------


def _run_asgi(app, headers: list[tuple[bytes, bytes]], chunks: int, hang_up: bool = False) -> tuple[int, int]:
    """POST `chunks` 64 kB chunks (or hang up at once); returns (status, chunks the app pulled)."""
    status, pulled, _ = _run_asgi_response(app, headers, chunks, hang_up)
    return status, pulled


def _run_asgi_response(
    app, headers: list[tuple[bytes, bytes]], chunks: int, hang_up: bool = False
) -> tuple[int, int, dict[bytes, bytes]]:
    """`_run_asgi`, with the response's headers too."""
    import asyncio

    pulled = 0
    status = 0
    response_headers: dict[bytes, bytes] = {}

    async def receive() -> dict:
        nonlocal pulled
        pulled += 1
        if hang_up:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": b"x" * 65536, "more_body": pulled < chunks}

    async def send(message: dict) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers.update(message["headers"])

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/predictions",
        "raw_path": b"/v1/predictions",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return status, pulled, response_headers


def test_a_body_declared_over_16_mb_is_refused_without_reading_it(client: TestClient) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(100 * 2**20).encode())]
    status, pulled, answer = _run_asgi_response(client.app, headers, chunks=1600)
    assert (status, pulled) == (413, 0)
    assert answer[b"connection"] == b"close"


def test_a_body_declared_over_2_mb_is_read_to_its_end_before_the_413_and_the_connection_kept(
    client: TestClient,
) -> None:
    """Answering while the client still sends would get the 413 lost in a TCP reset (issue 13)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", str(48 * 65536).encode())]
    status, pulled, answer = _run_asgi_response(client.app, headers, chunks=48)
    assert (status, pulled) == (413, 48)
    assert b"connection" not in answer


def test_a_client_that_waits_for_100_continue_gets_the_413_without_sending_its_body(
    client: TestClient,
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(3 * 2**20).encode()),
        (b"expect", b"100-continue"),
    ]
    assert _run_asgi(client.app, headers, chunks=48) == (413, 0)


def test_a_chunked_oversized_body_is_refused_past_2_mb_and_read_no_further_than_16_mb(
    client: TestClient,
) -> None:
    status, pulled, answer = _run_asgi_response(client.app, [(b"content-type", b"application/json")], 1600)
    assert status == 413
    assert pulled == 16 * 2**20 // 65536 + 1  # drained to the first chunk past 16 MB, then closed
    assert answer[b"connection"] == b"close"


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"s\x7f\xff", ["UTF-8"]),  # found by the schemathesis run: FastAPI itself answers 400
        (b"[" * 100_000, ["nested too deeply"]),
        (b'{"label": ' + b"9" * 5000 + b"}", ["digits"]),
    ],
)
def test_a_label_body_fastapi_cannot_decode_gets_422(
    client: TestClient, content: bytes, words: list[str]
) -> None:
    created = post_png(client, drawn_one()).json()
    response = client.put(
        f"/v1/predictions/{created['id']}/label",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert_problem(response, 422, "not valid JSON", *words)


def test_zero_workers_is_refused_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["api", "--workers", "0"]) == 2
    assert capsys.readouterr().err == "digit-knower api: --workers must be 1 or more, not 0\n"


@pytest.mark.parametrize("content_type", [b"application/json", b"multipart/form-data; boundary=x"])
def test_a_client_that_hangs_up_mid_body_is_no_server_error(client: TestClient, content_type: bytes) -> None:
    # wrk does this at the end of every load run; it must not be logged as a crash.
    status, _ = _run_asgi(client.app, [(b"content-type", content_type)], chunks=1, hang_up=True)
    assert status == 400
