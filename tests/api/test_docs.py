"""The API's documentation, served from the package and behind the API key; security headers on
every answer; HEAD on the liveness probe; truncated uploads named (issue 13, item 8).

(The docs in a real browser are in tests/e2e/test_api_docs_in_chromium.py; the headers of a real
uvicorn server in test_api_server.py.)
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from digit_knower.api import create_app
from digit_knower.settings import get_settings
from tests.support.api import drawn_one

KEY = "s3cret-key"
PAGES = ("/docs", "/openapi.json")
ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-init.js")


def app_client(monkeypatch: pytest.MonkeyPatch, **env: str) -> TestClient:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return TestClient(create_app())


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with app_client(monkeypatch) as c:  # the embedded SQLite in the test's own state folder
        yield c


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with app_client(monkeypatch, DIGIT_KNOWER_API_KEY=KEY) as c:
        yield c


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- Security headers ---------------------------------------------------------------------


def test_every_answer_says_nosniff_no_store_and_a_closed_content_security_policy(client: TestClient):
    answers = [
        client.get("/healthz"),
        client.post("/v1/predictions", files={"file": ("d.png", drawn_one(), "image/png")}),
        client.get("/v1/predictions"),
        client.get("/no/such/page"),
        client.post("/v1/predictions", content=b"x" * (3 * 2**20), headers={"content-type": "image/png"}),
    ]
    assert [a.status_code for a in answers] == [200, 201, 200, 404, 413]
    for answer in answers:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert answer.headers["referrer-policy"] == "no-referrer"


def test_head_on_the_liveness_probe_answers_200_without_a_body(client: TestClient):
    answer = client.head("/healthz")
    assert answer.status_code == 200
    assert answer.content == b""


def test_a_multipart_upload_cut_off_mid_part_gets_400_saying_it_is_truncated(client: TestClient):
    boundary = "dk-test-boundary"
    whole = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + drawn_one()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}

    assert client.post("/v1/predictions", content=whole, headers=headers).status_code == 201
    for cut in (len(whole) - 3, len(whole) // 2, 40):
        answer = client.post("/v1/predictions", content=whole[:cut], headers=headers)
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert "truncated" in answer.json()["detail"]


# --- The docs, from the package -----------------------------------------------------------


def test_the_docs_page_loads_only_scripts_of_this_server_and_runs_no_inline_script(client: TestClient):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert re.findall(r"https?://", page.text) == []  # no CDN, no other origin at all
    assert "<script>" not in page.text  # every script has a src on this server
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy
    for src in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert src.startswith("/docs/assets/"), src
        assert client.get(src).status_code == 200, src
    assert client.get("/redoc").status_code == 404  # ReDoc's bundle fetches its logo from a CDN


def test_the_docs_assets_are_the_real_swagger_ui(client: TestClient):
    bundle = client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert len(bundle.content) > 500_000 and b"SwaggerUIBundle" in bundle.content
    assert bundle.headers["cache-control"] == "public, max-age=86400"
    assert "validatorUrl: null" in client.get("/docs/assets/swagger-init.js").text  # no call to a validator


def test_with_an_api_key_set_the_docs_and_the_openapi_document_need_it(keyed: TestClient):
    for path in PAGES:
        refused = keyed.get(path)
        assert refused.status_code == 401, path
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"].startswith('Basic realm="Digit Knower API docs"')
        assert keyed.get(path, headers=basic("anyone", "wrong")).status_code == 401
        assert keyed.get(path, headers={"X-API-Key": KEY}).status_code == 200, path
        assert keyed.get(path, headers=basic("anyone", KEY)).status_code == 200, path  # as a browser asks
    for asset in ASSETS:  # public code, the same for everyone
        assert keyed.get(f"/docs/assets/{asset}").status_code == 200


def test_the_basic_password_opens_only_the_docs_not_the_api(keyed: TestClient):
    assert keyed.get("/v1/stats", headers=basic("anyone", KEY)).status_code == 401


def test_a_setting_turns_the_docs_and_the_openapi_document_off(monkeypatch: pytest.MonkeyPatch):
    with app_client(monkeypatch, DIGIT_KNOWER_API_DOCS="false") as bare:
        for path in (*PAGES, "/docs/assets/swagger-ui-bundle.js"):
            answer = bare.get(path)
            assert answer.status_code == 404, path
            assert "/docs" not in answer.json()["detail"].replace(path, "")
        assert bare.get("/healthz").status_code == 200
