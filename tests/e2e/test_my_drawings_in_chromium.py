"""End to end, in real Chromium: each visitor's History holds their own drawings only, and they
can delete them; the statistics stay everyone's."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Locator, sync_playwright

from digit_knower.store import Store
from tests.support import servers
from tests.support.browser import ARTIFACTS, RESULT_TIMEOUT_MS, STROKES, DigitPage, launch_chromium

pytestmark = pytest.mark.e2e


def history_rows(page: DigitPage) -> list[str]:
    """The answers in the History table, read from the data grid's accessible table."""
    rows = history_grid(page).locator("tbody [role='row']")
    rows.first.wait_for(state="attached", timeout=RESULT_TIMEOUT_MS)
    return [row.locator("[role='gridcell'][aria-colindex='3']").inner_text() for row in rows.all()]


def history_grid(page: DigitPage) -> Locator:
    """The first data grid under the "Your drawings" heading."""
    heading = page.page.get_by_role("heading", name="Your drawings")
    heading.wait_for(timeout=RESULT_TIMEOUT_MS)
    return heading.locator("xpath=following::*[@data-testid='stDataFrame'][1]")


def tick_first_row(page: DigitPage) -> None:
    """Tick the first row's box: the grid draws it on a canvas, left of the first column, under a
    header row of 36 px."""
    grid = history_grid(page)
    grid.scroll_into_view_if_needed()
    box = grid.locator("canvas[data-testid='data-grid-canvas']").bounding_box()
    assert box is not None
    page.page.mouse.click(box["x"] + 16, box["y"] + 36 + 18)


def test_each_visitor_sees_and_deletes_only_their_own_drawings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
    store = Store(url, outbox_path=tmp_path / "test-outbox.sqlite3")
    with (
        servers.page(env, ARTIFACTS / "e2e-serve-my-drawings.log") as server,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            # Two visitors: two browser contexts, as two people on two machines.
            first, second = (
                DigitPage(
                    browser.new_context(viewport={"width": 1280, "height": 1600}).new_page(), server.url
                )
                for _ in range(2)
            )
            first.draw(STROKES[7]())
            assert first.predict()[0] == "7"
            second.draw(STROKES[1]())
            assert second.predict()[0] == "1"
            assert len(store.recent()) == 2

            assert history_rows(first) == ["It's a 7."]
            assert history_rows(second) == ["It's a 1."]

            tick_first_row(first)
            delete = first.page.get_by_role("button", name="Delete 1 drawing")
            delete.wait_for(timeout=RESULT_TIMEOUT_MS)
            delete.click()
            first.page.get_by_text("None yet").wait_for(timeout=RESULT_TIMEOUT_MS)
            first.page.screenshot(path=str(ARTIFACTS / "e2e-my-drawings-deleted.png"), full_page=True)
        finally:
            browser.close()
    # The first visitor's 7 is gone from the store; the second visitor's 1 is untouched.
    assert [(r.digit, r.owner is not None) for r in store.recent()] == [(1, True)]
