"""End to end, in real Chromium: a label always lands on the drawing whose answer is shown.

Issue 22's walk-through: draw a 3 and press Predict; Clear, draw a 7, and try to label it 7
without predicting again. The old answer must retire at Clear (greyed, with "Press Predict to
read the new drawing", and no label picker), so nothing can label the 3 as a 7, and the 7,
never read, gets no label either. Predicting the 7 then gives a picker whose label lands on the
7's own row; a stroke added afterwards retires that answer too.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from digit_knower.store import Store
from tests.support import servers
from tests.support.browser import (
    ARTIFACTS,
    RESULT_TIMEOUT_MS,
    STROKES,
    DigitPage,
    Point,
    launch_chromium,
)

pytestmark = pytest.mark.e2e


def arc(centre: Point, radii: Point, turns: tuple[float, float], steps: int) -> list[Point]:
    """Points along an ellipse, clockwise from the top, between two fractions of a turn."""
    (cx, cy), (rx, ry), (first, last) = centre, radii, turns
    angles = [2 * math.pi * (first + (last - first) * i / steps) for i in range(steps + 1)]
    return [(cx + rx * math.sin(a), cy - ry * math.cos(a)) for a in angles]


def stroke_three() -> list[list[Point]]:
    """A 3 in one stroke, in canvas pixels: an upper bowl, then a bigger lower one."""
    return [arc((140, 95), (55, 45), (-0.175, 0.35), 16) + arc((140, 188), (62, 50), (0, 0.65), 20)]


CROSS_BAR = [[(105.0, 150.0), (125.0, 150.0), (145.0, 150.0), (165.0, 150.0)]]
"""A short bar across the middle of a 7: one more stroke on a drawing already read."""


def picker_count(page: DigitPage) -> int:
    """Label pickers and Submit buttons on the page (0 when no label can be given)."""
    return (
        page.page.locator("[class*='st-key-label-']").count()
        + page.page.locator(".st-key-submit_label button").count()
    )


def wait_for_retired_answer(page: DigitPage) -> None:
    """Wait until the page greys out the answer and asks for a Predict, then until its run ends."""
    page.page.get_by_test_id("dk-read-again").wait_for(timeout=RESULT_TIMEOUT_MS)
    page.wait_until_idle()


def assert_answer_retired(page: DigitPage) -> None:
    note = page.page.get_by_test_id("dk-read-again")
    assert note.inner_text().strip() == "Press Predict to read the new drawing."
    answer = page.page.get_by_test_id("dk-answer")
    assert answer.get_attribute("data-state") == "retired"
    opacity = answer.evaluate("(el) => Number(getComputedStyle(el).opacity)")
    assert opacity < 1, "the retired answer is not greyed out"
    assert picker_count(page) == 0, "a label picker is still offered for an answer no longer shown"


def test_clear_retires_the_answer_so_no_label_lands_on_the_wrong_drawing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
    store = Store(url, outbox_path=tmp_path / "test-outbox.sqlite3")
    with (
        servers.page(env, ARTIFACTS / "e2e-serve-label-lands.log") as server,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 2000}), server.url)
            page.draw(stroke_three())
            assert page.predict()[0] == "3"
            three = uuid.UUID(page.shown_record_id())
            assert page.page.get_by_test_id("dk-answer").get_attribute("data-state") == "current"
            assert picker_count(page) == 2  # the picker and its Submit, for the 3 on screen

            page.clear()
            wait_for_retired_answer(page)
            assert_answer_retired(page)

            page.draw(STROKES[7]())  # ...and no Predict: the 7 is never read
            page.page.wait_for_timeout(500)  # the stroke's run starts just after the pen lifts
            page.wait_until_idle()
            assert_answer_retired(page)
            page.page.screenshot(path=str(ARTIFACTS / "e2e-label-retired.png"), full_page=True)
            assert [(r.id, r.digit, r.true_label) for r in store.recent()] == [(three, 3, None)]

            # Read now, the 7 gets its own answer and picker, and its label lands on its own row.
            assert page.predict()[0] == "7"
            seven = uuid.UUID(page.shown_record_id())
            assert "it is a 7, so the model was right" in page.submit_label(7)
            assert [(r.id, r.true_label) for r in store.recent()] == [(seven, 7), (three, None)]
            # Saved, the page moves on: a clean canvas, and no answer left to label.
            assert page.page.get_by_test_id("dk-answer").count() == 0
            assert picker_count(page) == 0

            page.draw(STROKES[7]())
            assert page.predict()[0] == "7"
            page.draw(CROSS_BAR)  # a new stroke, without Clear, retires the answer as well
            wait_for_retired_answer(page)
            assert_answer_retired(page)
        finally:
            browser.close()
    assert [(r.digit, r.true_label) for r in store.recent()] == [(7, None), (7, 7), (3, None)]
