"""The page's process counts what people do on the page: a real prediction in real Chromium, then
its metrics port, scraped as Prometheus scrapes it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright

from digit_knower import Predictor
from tests.support import servers
from tests.support.browser import ARTIFACTS, STROKES, DigitPage, launch_chromium
from tests.support.metrics import parse, value
from tests.support.postgres_server import free_port

pytestmark = pytest.mark.e2e


def test_a_prediction_on_the_page_shows_in_the_page_process_metrics(tmp_path: Path) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}",
        "DIGIT_KNOWER_STATE_DIR": str(tmp_path),
        "DIGIT_KNOWER_WEB_METRICS_PORT": str(port),
    }
    metrics_url = f"http://127.0.0.1:{port}/metrics"
    with servers.page(env, ARTIFACTS / "e2e-serve-metrics.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            before = parse(httpx.get(metrics_url).text)
            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 1200}), server.url)
            page.draw(STROKES[7]())
            shown, _ = page.predict()
            after = parse(httpx.get(metrics_url).text)
        finally:
            browser.close()

    assert value(before, "digit_knower_predictions_total", source="web", verdict="digit") == 0
    assert value(after, "digit_knower_predictions_total", source="web", verdict="digit") == 1
    assert value(after, "digit_knower_digits_read_total", source="web", digit=str(shown)) == 1
    assert value(after, "digit_knower_preprocess_seconds_count") == 1
    assert value(after, "digit_knower_model_seconds_count") == 1
    assert ("digit_knower_outbox_backlog", frozenset()) in after
    assert value(after, "digit_knower_outbox_backlog") == 0
    assert value(after, "digit_knower_model_info", version=Predictor.load().model_version) == 1
