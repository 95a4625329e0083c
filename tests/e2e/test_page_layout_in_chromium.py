"""End to end, in real Chromium: the page fits a phone, a tablet and a desktop, and is usable on each.

- Nothing overflows at 390, 768 and 1280 px wide, with several digits read (the widest answer) and
  the stats' charts drawn: every element's box is checked against the viewport.
- On a 390x844 touch phone the answer scrolls into view after Predict, the "Saved" toast shows in
  view, the page moves on to a clean canvas, and every button, tab and label chip is at least
  44x44 px. The page makes no request off its own host (the favicon and fonts are the package's).
- The answer is in an ARIA live region, and every image has alt text.
- Undo (the button and Ctrl+Z) and the eraser work on the canvas; "Read as I draw" reads without
  logging, Predict then logs once, and a second Predict of the same drawing logs nothing more.
- Tab goes from the canvas's tools to Predict, the label picker, then Submit.

Screenshots of the layout at both sizes go to artifacts/ (docs/images has copies).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from digit_knower.store import Store
from tests.support import servers
from tests.support.browser import (
    ARTIFACTS,
    RESULT_TIMEOUT_MS,
    STROKES,
    DigitPage,
    Point,
    launch_chromium,
    side_by_side,
)

pytestmark = pytest.mark.e2e

WIDTHS = (390, 768, 1280)
PHONE = {"width": 390, "height": 844}
TOUCH_TARGET_PX = 44

# Each element's box against the viewport. Content inside a container that scrolls sideways on
# purpose (a data table's grid) is reachable by scrolling, so only the container itself counts;
# the page's own scroller (stMain) is the viewport, never such a container.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const scrollsItself = (el) => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      if (a.matches('[data-testid="stMain"], [data-testid="stApp"]')) break;
      const style = getComputedStyle(a);
      if (style.overflowX === "auto" || style.overflowX === "scroll") return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || scrollsItself(el)) continue;
    if (box.left < -1 || box.right > width + 1) {
      const name = el.getAttribute("data-testid") || el.className.toString().slice(0, 40);
      found.push(`${el.tagName} ${name}: x ${Math.round(box.left)} to ${Math.round(box.right)}`);
    }
  }
  const main = document.querySelector('[data-testid="stMain"]');
  if (main.scrollWidth > main.clientWidth + 1) found.push(`the page scrolls sideways to ${main.scrollWidth}`);
  return found;
}"""

# The focused element, as "<its Streamlit key> <its role>", looking into components' shadow roots.
FOCUSED = """() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
  const keyed = el.closest('[class*="st-key-"]');
  const key = keyed ? keyed.className.match(/st-key-(\\S+)/)[1] : "";
  return `${key} ${el.getAttribute("role") || el.tagName.toLowerCase()}`;
}"""

IMAGES_WITHOUT_WORDS = """() => [...document.querySelectorAll("img")]
  .filter((img) => !(img.getAttribute("alt") || "").trim())
  .map((img) => img.src.slice(0, 60))"""


def settle(page: DigitPage) -> None:
    """Let a resized page lay itself out again: the charts redraw after the resize event."""
    page.page.wait_for_timeout(800)
    page.wait_until_idle()


def ink(page: DigitPage) -> int:
    """How many of the canvas's pixels carry ink (any red)."""
    return page.canvas.evaluate(
        """(c) => c.getContext("2d").getImageData(0, 0, c.width, c.height).data
                    .filter((value, i) => i % 4 === 0 && value > 0).length"""
    )


def erase(page: DigitPage, strokes: list[list[Point]]) -> None:
    """Move over the strokes with the button down (the eraser is on): DigitPage.draw wants ink after."""
    box = page.canvas.bounding_box()
    assert box is not None
    scale = box["width"] / 280
    for stroke in strokes:
        page.page.mouse.move(box["x"] + stroke[0][0] * scale, box["y"] + stroke[0][1] * scale)
        page.page.mouse.down()
        for x, y in stroke[1:]:
            page.page.mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=2)
        page.page.mouse.up()


def in_view(page: Page, box: dict[str, float] | None) -> bool:
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 1


def test_nothing_overflows_at_phone_tablet_and_desktop_widths_and_every_image_has_words(
    tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-layout.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
            page.draw(STROKES[7]())
            assert page.predict()[0] == "7"
            page.submit_label(7)  # the stats' charts appear with a label
            page.draw(side_by_side(1, 0, 7))
            assert page.predict()[0] == "1 0 7"  # the widest answer: three digits and their pictures
            for width in WIDTHS:
                page.page.set_viewport_size({"width": width, "height": 900})
                settle(page)
                assert page.page.evaluate(OVERFLOWING) == [], f"overflow at {width} px wide"
                saw = page.page.get_by_test_id("dk-saw").locator("img").bounding_box()
                assert saw is not None and saw["x"] + saw["width"] <= width
                assert page.page.evaluate(IMAGES_WITHOUT_WORDS) == []
                page.page.screenshot(path=str(ARTIFACTS / f"e2e-layout-{width}.png"), full_page=True)
            alt = page.page.get_by_test_id("dk-saw").locator("img").get_attribute("alt")
            assert alt == "What the model saw: 3 pictures of 28 by 28, one per digit, left to right"
            live = page.page.locator('[role="status"][aria-live="polite"]')
            expect(live.get_by_test_id("dk-answer")).to_have_count(1)
            assert page.canvas.get_attribute("aria-label") == "Drawing area: draw one digit, 0 to 9"
        finally:
            browser.close()


def test_on_a_phone_the_answer_and_saved_show_in_view_targets_are_big_and_nothing_leaves_the_host(
    tmp_path: Path,
) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-phone.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            phone = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
            requested: list[str] = []
            phone.on("request", lambda request: requested.append(request.url))
            page = DigitPage(phone.new_page(), server.url)
            page.draw_with("touch", STROKES[7]())
            assert page.predict()[0] == "7"
            answer = page.page.get_by_test_id("dk-answer")
            # The page scrolls the answer up from below the fold, smoothly: wait until it is in view.
            page.page.wait_for_function(
                """() => {
                     const box = document.querySelector('[data-testid="dk-answer"]').getBoundingClientRect();
                     return box.top >= 0 && box.bottom <= window.innerHeight;
                   }""",
                timeout=RESULT_TIMEOUT_MS,
            )
            assert in_view(page.page, answer.bounding_box())
            page.page.screenshot(path=str(ARTIFACTS / "e2e-phone-answer.png"))

            targets = page.page.locator(
                '[data-testid="stMain"] [data-testid^="stBaseButton-"]:visible, '
                '[data-testid="stMain"] [role="tab"]:visible, [data-testid="stMain"] [role="radio"]:visible, '
                '[data-testid="dk-eraser"], [data-testid="dk-undo"], [data-testid="dk-clear"]'
            )
            small = []
            for target in targets.all():
                box = target.bounding_box()
                if box and min(box["width"], box["height"]) < TOUCH_TARGET_PX:
                    small.append(f"{target.inner_text().strip()!r}: {box['width']:.0f}x{box['height']:.0f}")
            assert targets.count() >= 10 + 6  # the ten chips, Submit, Predict, the tabs, the canvas's three
            assert small == [], "touch targets under 44 px"

            page.submit_label(7)
            toast = page.page.get_by_test_id("stToast")
            assert in_view(page.page, toast.bounding_box())
            page.page.screenshot(path=str(ARTIFACTS / "e2e-phone-saved.png"))
            assert ink(page) == 0, "the canvas was not cleaned after the label was saved"
            assert page.page.get_by_test_id("dk-answer").count() == 0

            host = urlsplit(server.url).netloc
            off_host = [url for url in requested if url.startswith("http") and urlsplit(url).netloc != host]
            assert requested and off_host == []
            icon = page.page.locator("link[rel~='icon']").first.get_attribute("href") or ""
            assert not icon.startswith("http") or urlsplit(icon).netloc == host
        finally:
            browser.close()


def test_undo_eraser_and_read_as_i_draw(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    store = Store(url, outbox_path=tmp_path / "test-outbox.sqlite3")
    with servers.page(env, ARTIFACTS / "e2e-serve-undo.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
            page.draw(STROKES[1]())
            one = page.canvas.evaluate("(c) => c.toDataURL()")
            page.draw([[(90.0, 200.0), (190.0, 200.0)]])
            page.page.get_by_test_id("dk-undo").click()
            assert page.canvas.evaluate("(c) => c.toDataURL()") == one  # the bar is gone, the 1 stays
            page.page.keyboard.press("Control+z")
            assert ink(page) == 0

            page.draw(STROKES[1]())
            drawn = ink(page)
            page.page.get_by_test_id("dk-eraser").click()
            expect(page.page.get_by_test_id("dk-eraser")).to_have_attribute("aria-pressed", "true")
            page.page.get_by_test_id("dk-stroke").fill("40")  # wider than the ink: no rim left
            erase(page, STROKES[1]())
            assert ink(page) < drawn / 50, "the eraser left the stroke"
            page.page.get_by_test_id("dk-eraser").click()
            page.clear()

            page.page.locator(".st-key-live label").click()
            page.wait_until_idle()
            page.draw(STROKES[7]())  # no Predict: the page reads it after the pause
            live = page.page.locator('[data-testid="dk-answer"][data-state="live"]')
            live.wait_for(timeout=RESULT_TIMEOUT_MS)
            assert live.get_by_test_id("dk-digit").inner_text().strip() == "7"
            page.wait_until_idle()
            assert store.recent() == [], "a live reading was logged"
            assert page.page.locator("[class*='st-key-label-']").count() == 0

            assert page.predict()[0] == "7"  # Predict logs it, as ever
            record = page.shown_record_id()
            page.page.locator(".st-key-predict button").click()  # the same drawing again
            page.page.wait_for_timeout(500)  # the click's run starts just after it
            page.wait_until_idle()
            assert page.shown_record_id() == record
            assert [str(r.id) for r in store.recent()] == [record]

            # Keyboard: from the canvas's last tool, Tab reaches Predict, the picker, then Submit.
            page.page.get_by_test_id("dk-clear").focus()
            order = []
            for _ in range(3):
                page.page.keyboard.press("Tab")
                order.append(page.page.evaluate(FOCUSED))
            assert order == ["predict button", f"label-{record} radio", "submit_label button"]
        finally:
            browser.close()
