"""Drive the real page in Debian's Chromium and draw with the mouse (the page itself is started
with `tests.support.servers.page`).

Shared by the end-to-end tests and bench/web_predict_latency.py, so the figure the bench prints
is measured exactly the way the test exercises the page.
"""

from __future__ import annotations

import itertools
import math
import time
from pathlib import Path

from playwright.sync_api import Browser, Locator, Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from digit_knower.reader.verdict import article

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "artifacts"
CHROMIUM = "/usr/bin/chromium"
# Playwright's own browser download does not work here; Debian's chromium does, with these flags.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A deadline for giving up, never a measure (bench/web_predict_latency.py measures): a page that
# has not answered after this long is stuck, and the test says what it shows instead (`_stuck`).
RESULT_TIMEOUT_MS = 90_000

Point = tuple[float, float]


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# --- strokes, in canvas pixels (0..280), as a person would draw them --------------------------


def stroke_one() -> list[list[Point]]:
    return [[(140, 45 + 10 * i) for i in range(20)]]


def stroke_zero() -> list[list[Point]]:
    steps = 40
    return [
        [
            (140 + 55 * math.sin(2 * math.pi * i / steps), 140 - 90 * math.cos(2 * math.pi * i / steps))
            for i in range(steps + 1)
        ]
    ]


def stroke_seven() -> list[list[Point]]:
    top = [(75 + 13 * i, 60) for i in range(11)]
    down = [(205 - 8.5 * i, 60 + 17.5 * i) for i in range(1, 11)]
    return [top + down]


STROKES = {1: stroke_one, 0: stroke_zero, 7: stroke_seven}


def stroke_scribble() -> list[list[Point]]:
    """A zig-zag scribble over most of the canvas: no digit."""
    corners = [(40, 60), (230, 90), (50, 130), (240, 150), (30, 190), (220, 230), (60, 250), (200, 40)]
    line = [
        (x0 + (x1 - x0) * t / 6, y0 + (y1 - y0) * t / 6)
        for (x0, y0), (x1, y1) in itertools.pairwise(corners)
        for t in range(6)
    ]
    return [[*line, corners[-1]]]


def side_by_side(*digits: int) -> list[list[Point]]:
    """The digits' strokes shrunk into equal columns across the canvas, a gap between them."""
    width = 280 / len(digits)
    shrink = 0.8 / len(digits)
    return [
        [
            (i * width + width / 2 + (x - 140) * shrink * 1.6, 140 + (y - 140) * shrink * 1.6)
            for x, y in stroke
        ]
        for i, digit in enumerate(digits)
        for stroke in STROKES[digit]()
    ]


class DigitPage:
    """The page as a person uses it: draw, predict, read the answer, give the true label."""

    def __init__(self, page: Page, url: str) -> None:
        self.page = page
        page.goto(url)
        self.canvas = page.get_by_test_id("dk-canvas")
        self.canvas.wait_for(timeout=RESULT_TIMEOUT_MS)
        self.wait_until_idle()  # the layout settles before any stroke

    def clear(self) -> None:
        self.page.get_by_test_id("dk-clear").click()
        self.wait_until_idle()

    def draw(self, strokes: list[list[Point]]) -> None:
        self.wait_for_canvas_in_view()
        box = self.canvas.bounding_box()
        assert box is not None, "the canvas is not visible"
        scale = box["width"] / 280
        mouse = self.page.mouse
        for stroke in strokes:
            x, y = stroke[0]
            mouse.move(box["x"] + x * scale, box["y"] + y * scale)
            mouse.down()
            for x, y in stroke[1:]:
                mouse.move(box["x"] + x * scale, box["y"] + y * scale, steps=2)
            mouse.up()
        self.assert_canvas_has_ink()

    def wait_for_canvas_in_view(self) -> None:
        """Wait until the whole canvas is in the window, as a person does before drawing: after a
        saved label the page scrolls back up to a clean canvas."""
        try:
            self.page.wait_for_function(
                "(c) => { const b = c.getBoundingClientRect();"
                " return b.top >= -1 && b.bottom <= innerHeight + 1; }",
                arg=self.canvas.element_handle(timeout=RESULT_TIMEOUT_MS),
                timeout=RESULT_TIMEOUT_MS,
            )
        except PlaywrightTimeoutError:
            raise self._stuck("the canvas never came into view") from None

    def assert_canvas_has_ink(self) -> None:
        """Fail at once, and say so, when the strokes missed the canvas (say, the page moved it
        while they were drawn), instead of later as a Predict with nothing drawn."""
        # The paper is black and the ink white: any pixel with some red in it is ink.
        inked = self.canvas.evaluate(
            """(c) => c.getContext("2d").getImageData(0, 0, c.width, c.height).data
                        .some((value, i) => i % 4 === 0 && value > 0)"""
        )
        assert inked, "the strokes missed the canvas: it is still blank"

    def draw_with(self, pointer: str, strokes: list[list[Point]]) -> None:
        """Draw with a finger ("touch") or a stylus ("pen") through Chromium's input pipeline.

        DevTools input events go through the same path as a real touch screen or tablet, so the
        page receives genuine pointer events of that type (and a finger could scroll the page
        instead of drawing, were `touch-action: none` missing).
        """
        self.wait_for_canvas_in_view()
        box = self.canvas.bounding_box()
        assert box is not None, "the canvas is not visible"
        scale = box["width"] / 280
        cdp = self.page.context.new_cdp_session(self.page)
        for stroke in strokes:
            points = [{"x": box["x"] + x * scale, "y": box["y"] + y * scale} for x, y in stroke]
            if pointer == "touch":
                cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [points[0]]})
                for point in points[1:]:
                    cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
                cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
                continue
            pen = {"pointerType": "pen", "button": "left", "clickCount": 1, "force": 0.5}
            cdp.send("Input.dispatchMouseEvent", {"type": "mousePressed", **points[0], **pen})
            for point in points[1:]:
                cdp.send("Input.dispatchMouseEvent", {"type": "mouseMoved", **point, **pen, "buttons": 1})
            cdp.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **points[-1], **pen})
        cdp.detach()
        self.assert_canvas_has_ink()

    def _shown(self) -> Locator:
        return self.page.get_by_test_id("dk-digit")

    def predict(self, button: str = "predict") -> tuple[str, float]:
        """Press Predict; return what is shown big (a digit, "4?", "4 2" or a cross) and the seconds
        from the click to a new result."""
        before = self._shown().get_attribute("data-record") if self._shown().count() else None
        self.page.locator(f".st-key-{button} button").click()
        started = time.perf_counter()
        try:
            self.page.wait_for_function(
                """(before) => {
                     const el = document.querySelector('[data-testid="dk-digit"]');
                     return el !== null && el.dataset.record !== before;
                   }""",
                arg=before,
                timeout=RESULT_TIMEOUT_MS,
            )
        except PlaywrightTimeoutError:
            raise self._stuck(f"no new result after pressing {button}") from None
        seconds = time.perf_counter() - started
        self.wait_until_idle()  # the rest of the run (history, stats) replaces any stale elements
        return self._shown().inner_text().strip(), seconds

    def message(self) -> str:
        """The reader's words under the answer, e.g. "That doesn't look like a digit." """
        return self.page.get_by_test_id("dk-message").inner_text().strip()

    def wait_until_idle(self) -> None:
        self.page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(
            timeout=RESULT_TIMEOUT_MS
        )

    def shown_record_id(self) -> str:
        record = self._shown().get_attribute("data-record")
        assert record, "the result carries no record id"
        return record

    def submit_label(self, label: int) -> str:
        """Pick the true label, press Submit, and return the confirmation text (a toast: the page
        moves on to a clean canvas once the label is saved)."""
        picker = self.page.locator("[class*='st-key-label-']")
        picker.get_by_role("radio", name=str(label), exact=True).click()
        self.page.locator(".st-key-submit_label button").click()
        confirmation = self.page.get_by_test_id("stToast").filter(has_text=f"it is {article(label)} {label},")
        try:
            confirmation.wait_for(timeout=RESULT_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            raise self._stuck(f"no confirmation after submitting {label}") from None
        text = confirmation.inner_text()
        self.wait_until_idle()
        return text

    def _stuck(self, what: str) -> AssertionError:
        """The failure to raise when the page did not answer: what it shows instead, in words and
        in a screenshot (artifacts/e2e-stuck.png), since a timeout alone says nothing."""
        self.page.screenshot(path=str(ARTIFACTS / "e2e-stuck.png"), full_page=True)
        state = self.page.locator('[data-testid="stApp"]').get_attribute("data-test-script-state")
        shown = self.page.locator('[data-testid="stMain"]').inner_text()
        return AssertionError(
            f"{what} ({RESULT_TIMEOUT_MS // 1000} s); the script is {state}; the page shows:\n{shown[:3000]}"
        )


def upload(page: Page, name: str, data: bytes, mime: str) -> None:
    """Choose a file in the Upload tab, as a person would with the file dialog.

    Returns once Python holds the file: the page enables its Predict button only then.
    """
    page.get_by_role("tab", name="Upload").click()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    expect(page.locator(".st-key-predict_upload button")).to_be_enabled(timeout=RESULT_TIMEOUT_MS)
