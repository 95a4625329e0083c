"""End to end: the real page through a PostgreSQL outage, in real Chromium.

Digits drawn while PostgreSQL is down are answered, and wait in the outbox. Once the browser is
closed and PostgreSQL is back, nobody touches the page again: its background flusher writes them
all the same, and the page process stops cleanly afterwards.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support import servers
from tests.support.browser import ARTIFACTS, RESULT_TIMEOUT_MS, STROKES, DigitPage, launch_chromium
from tests.support.postgres_server import own_server

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

GIVE_UP_S = 120  # a deadline for giving up, not a measure
WEB_ROWS = "SELECT digit, true_label FROM predictions WHERE source = 'web' ORDER BY created_at"


def test_digits_drawn_during_an_outage_land_with_nobody_on_the_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with own_server() as server:
        url = server.create_migrated_database()
        env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
        with servers.page(env, ARTIFACTS / "e2e-serve-outage.log") as page_server:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    tab = browser.new_page(viewport={"width": 1400, "height": 2000})
                    DigitPage(tab, page_server.url)  # the page opens while the database is up
                    server.stop()
                    # Loaded again, the page notices the outage and shows its banner above the
                    # canvas before anything is drawn: a banner that appeared mid-stroke would
                    # move the canvas away from under the pointer (CI once drew beside it).
                    page = DigitPage(tab, page_server.url)
                    tab.get_by_text("logging paused").wait_for(timeout=RESULT_TIMEOUT_MS)
                    for digit in (1, 7):
                        page.clear()
                        page.draw(STROKES[digit]())
                        assert page.predict()[0] == str(digit)  # answered while the database is down
                    assert "it is a 7" in page.submit_label(7)
                    paused = page.page.get_by_text("logging paused")
                    paused.wait_for()
                    page.page.screenshot(path=str(ARTIFACTS / "e2e-outage.png"), full_page=True)
                finally:
                    browser.close()

            server.start()  # from here on, no request reaches the page
            back = time.monotonic()
            while (rows := server.query(url, WEB_ROWS)) != [(1, None), (7, 7)]:
                assert time.monotonic() - back < GIVE_UP_S, f"still only {rows} in the database"
                time.sleep(0.1)
            took = time.monotonic() - back
        assert page_server.process.returncode == 0  # SIGTERM: a clean stop, flusher included
        assert "Traceback" not in page_server.log_text()
    with capsys.disabled():
        print(f"\n[e2e outage] the page's backlog landed {took:.1f} s after PostgreSQL was back")
