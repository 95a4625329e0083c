"""End to end: the API's docs in real Chromium, behind the API key, with nothing from elsewhere.

`digit-knower api` runs with DIGIT_KNOWER_API_KEY set. Chromium gives the key as the password
the page asks for, and Swagger UI must then show the API and try an endpoint: every script and
style from the server itself, no request to another origin, and no violation of the page's
Content-Security-Policy (Chromium reports those on the console). A screenshot goes to artifacts/.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Request, sync_playwright

from tests.support import servers
from tests.support.browser import ARTIFACTS, RESULT_TIMEOUT_MS, launch_chromium

pytestmark = pytest.mark.e2e

KEY = "docs-key-for-chromium"


def test_swagger_ui_shows_the_api_with_the_key_and_loads_nothing_from_elsewhere(tmp_path: Path):
    env = {"DIGIT_KNOWER_API_KEY": KEY, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
    with servers.api(env, ARTIFACTS / "e2e-api-docs.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            assert httpx.get(f"{server.url}/docs").status_code == 401  # Chromium would ask for the key

            context = browser.new_context(
                http_credentials={"username": "me", "password": KEY}, viewport={"width": 1400, "height": 1000}
            )
            page = context.new_page()
            problems: list[str] = []
            page.on("console", lambda m: _note_error(m, problems))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: _note_foreign(r, server.url, problems))

            page.goto(f"{server.url}/docs")
            title = page.locator(".swagger-ui .info .title", has_text="Digit Knower")
            title.wait_for(timeout=RESULT_TIMEOUT_MS)
            page.locator(".opblock-summary-path", has_text="/v1/predictions").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "e2e-api-docs-swagger.png"), full_page=True)

            # Try it out: GET /healthz from the page itself, under its Content-Security-Policy.
            page.locator(".opblock-summary-path", has_text="/healthz").first.click()
            page.get_by_role("button", name="Try it out").click()
            page.get_by_role("button", name="Execute").click()
            page.locator(".live-responses-table .response-col_status", has_text="200").wait_for()

            assert problems == []
        finally:
            browser.close()


def _note_error(message: ConsoleMessage, problems: list[str]) -> None:
    if message.type == "error":
        problems.append(f"console: {message.text}")


def _note_foreign(request: Request, origin: str, problems: list[str]) -> None:
    if not request.url.startswith((origin, "data:", "blob:")):
        problems.append(f"request to another origin: {request.url}")
