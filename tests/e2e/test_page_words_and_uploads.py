"""End to end, in real Chromium: the answer's words and its top three, and upload problems in words.

A drawn 1 is answered with the reader's words and the three likeliest digits with their
probabilities. A text file renamed .png is called no picture in plain words (never a Python
class name), the uploader names its size limit, a file over it is refused in words on the page
(not only as a red chip), and removing an uploaded file retires its answer.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect, sync_playwright

from tests.support import servers
from tests.support.browser import ARTIFACTS, STROKES, DigitPage, launch_chromium, upload

pytestmark = pytest.mark.e2e

NOT_A_PICTURE = (
    "This file is not a picture: the page reads PNG, JPEG or WebP pictures. "
    "Save the drawing as one of those and upload it again."
)
SERVED_LIMIT_MB = 10  # server.maxUploadSize as `digit-knower serve` sets it


def test_the_answer_shows_its_words_and_the_three_likeliest_digits(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-words.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
            page.draw(STROKES[1]())
            assert page.predict()[0] == "1"
            assert re.fullmatch(r"(It's|Probably) a 1(\.|; it could be an? \d\.)", page.message())
            top = page.page.get_by_test_id("dk-top").locator("li")
            expect(top).to_have_count(3)
            items = [item.inner_text().split() for item in top.all()]
            assert items[0][0] == "1"
            shares = [float(share.rstrip("%")) for _, share in items]
            assert all(re.fullmatch(r"\d+\.\d%", share) for _, share in items)
            assert shares == sorted(shares, reverse=True)
            page.page.screenshot(path=str(ARTIFACTS / "e2e-top-three.png"))
        finally:
            browser.close()


def test_upload_problems_are_said_in_words_and_removing_the_file_retires_its_answer(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with (
        servers.page(env, ARTIFACTS / "e2e-serve-upload-words.log") as server,
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
            upload(page.page, "digit.png", b"just some text, renamed to .png\n", "image/png")
            expect(page.page.get_by_text(f"up to {SERVED_LIMIT_MB} MB").first).to_be_visible()
            page.page.locator(".st-key-predict_upload button").click()
            problem = page.page.get_by_test_id("stAlertContentError")
            problem.wait_for()
            assert NOT_A_PICTURE in problem.inner_text()  # after the icon's name
            assert "Error" not in page.page.locator('[data-testid="stMain"]').inner_text()
            page.page.screenshot(path=str(ARTIFACTS / "e2e-upload-not-a-picture.png"))

            page = DigitPage(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
            refuse_a_file_over_the_limit(page)

            page = DigitPage(browser.new_page(viewport={"width": 1280, "height": 900}), server.url)
            upload(page.page, "one.png", one_png(), "image/png")
            assert page.predict(button="predict_upload")[0] == "1"
            answer = page.page.get_by_test_id("dk-answer")
            expect(answer).to_have_attribute("data-state", "current")
            page.page.get_by_test_id("stFileChipDeleteBtn").first.click()
            expect(answer).to_have_attribute("data-state", "retired")
            expect(page.page.get_by_test_id("dk-read-again")).to_be_visible()
        finally:
            browser.close()


def refuse_a_file_over_the_limit(page: DigitPage) -> None:
    """An 11.5 MB file (as the uploader's chip shows it): the browser refuses it, Python never sees
    it, and the page says why in words under the uploader until the file is removed."""
    page.page.get_by_role("tab", name="Upload").click()
    too_big = one_png() + b"\0" * (11 * 2**20)
    page.page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "big.png", "mimeType": "image/png", "buffer": too_big}]
    )
    refused = page.page.get_by_test_id("dk-refused")
    expect(refused).to_be_visible()
    expect(refused).to_have_text(
        f"The file is 11.5 MB: the page takes pictures up to {SERVED_LIMIT_MB} MB. Send a smaller one."
    )
    page.page.screenshot(path=str(ARTIFACTS / "e2e-upload-too-big.png"))
    page.page.get_by_test_id("stFileChipDeleteBtn").first.click()
    expect(refused).to_be_hidden()


def one_png() -> bytes:
    """A photo-like upload of a 1: dark ink on white paper."""
    picture = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(picture).line([(100, 30), (100, 170)], fill=0, width=18)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()
