"""End to end: the real `digit-knower serve`, real Chromium, mouse strokes, a real database.

For SQLite and for PostgreSQL: draw a 1, a 0 and a 7 with the mouse, press Predict, check the
digit on screen, give the true label, and find that label in the database row. The figure
printed is the time from the Predict click to the new result being visible. Also: a finger and
a pen draw as well as the mouse, and an uploaded picture is read (a broken one is explained).
Screenshots and server logs go to artifacts/.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import sync_playwright

from digit_knower.store import Store
from tests.support import servers
from tests.support.browser import (
    ARTIFACTS,
    STROKES,
    DigitPage,
    launch_chromium,
    side_by_side,
    stroke_scribble,
    upload,
)
from tests.support.postgres_server import PostgresServer

pytestmark = pytest.mark.e2e


def upgraded_postgres_database(postgres: PostgresServer) -> str:
    """A fresh database migrated the way an operator does it: `digit-knower db upgrade`."""
    url = postgres.create_database()
    done = subprocess.run(
        [servers.digit_knower_command(), "db", "upgrade"],
        env={**os.environ, "DATABASE_URL": url},  # the isolated state folder of this test, too
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(name, DATABASE_URL): a temporary SQLite file, or a migrated database on the real server."""
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
    return "postgresql", upgraded_postgres_database(request.getfixturevalue("postgres"))


def test_draw_predict_and_label_three_digits(
    backend: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, url = backend
    env = {"DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(tmp_path / "state")}
    seconds: list[float] = []
    with servers.page(env, ARTIFACTS / f"e2e-serve-{name}.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 2000}), server.url)
            store = Store(url, outbox_path=tmp_path / "test-outbox.sqlite3")
            for digit, strokes in STROKES.items():
                page.clear()
                page.draw(strokes())
                shown, took = page.predict()
                seconds.append(took)
                if shown != str(digit):
                    page.page.screenshot(path=str(ARTIFACTS / f"e2e-{name}-misread-{digit}.png"))
                assert shown == str(digit), f"drew a {digit}, the page said {shown}"
                assert page.message() == f"It's a {digit}."

                record_id = uuid.UUID(page.shown_record_id())
                confirmation = page.submit_label(digit)
                assert f"it is a {digit}" in confirmation
                row = store.get(record_id)
                assert (row.digit, row.true_label, row.source) == (digit, digit, "web")
            page.wait_until_idle()
            page.page.wait_for_timeout(500)  # charts redraw just after the run; the artefact shows them
            page.page.screenshot(path=str(ARTIFACTS / f"e2e-{name}.png"), full_page=True)
            assert [r.true_label for r in store.recent()] == [7, 0, 1]
        finally:
            browser.close()
    median_ms = statistics.median(seconds) * 1000
    each = ", ".join(f"{s * 1000:.0f}" for s in seconds)
    with capsys.disabled():
        print(
            f"\n[e2e {name}] Predict click -> result visible: median {median_ms:.0f} ms"
            f" (each: {each} ms; shared 2-core machine, noisy)"
        )


def test_an_uploaded_picture_is_read_and_a_broken_one_gets_a_clear_message(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-upload.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 1200}), server.url)
            upload(page.page, "seven.jpg", seven_on_paper(), "image/jpeg")
            shown, _ = page.predict(button="predict_upload")
            assert shown == "7"

            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 1200}), server.url)
            upload(page.page, "broken.png", BROKEN, "image/png")
            page.page.locator(".st-key-predict_upload button").click()
            problem = page.page.get_by_test_id("stAlertContentError")
            problem.wait_for()
            # The page's words for bytes that are no picture: no Python class name (issue 22).
            assert "not a picture" in problem.inner_text() and "Error" not in problem.inner_text()
            page.page.screenshot(path=str(ARTIFACTS / "e2e-upload-broken.png"))
        finally:
            browser.close()
    store = Store(env["DATABASE_URL"], outbox_path=tmp_path / "test-outbox.sqlite3")
    assert [r.digit for r in store.recent()] == [7]


def test_a_finger_and_a_pen_draw_too(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-touch.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            phone = browser.new_context(viewport={"width": 1000, "height": 1400}, has_touch=True)
            page = DigitPage(phone.new_page(), server.url)
            page.draw_with("touch", STROKES[1]())
            assert page.predict()[0] == "1"
            page.clear()
            page.draw_with("pen", STROKES[7]())
            assert page.predict()[0] == "7"
            page.page.screenshot(path=str(ARTIFACTS / "e2e-touch-and-pen.png"))
        finally:
            browser.close()


BROKEN = b"not a picture at all"


def seven_on_paper() -> bytes:
    """A photo-like upload: dark ink on white paper, not the canvas's white on black."""
    picture = Image.new("L", (200, 260), 255)
    ImageDraw.Draw(picture).line([(40, 50), (160, 50), (80, 220)], fill=20, width=16, joint="curve")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG")
    return buffer.getvalue()


def test_a_scribble_is_called_no_digit_and_two_digits_are_both_read(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-verdicts.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 1600}), server.url)
            page.draw(stroke_scribble())
            shown, _ = page.predict()
            assert (shown, page.message()) == ("✗", "That doesn't look like a digit.")
            page.page.screenshot(path=str(ARTIFACTS / "e2e-scribble.png"), full_page=True)

            page.clear()
            page.draw(side_by_side(1, 0))
            shown, _ = page.predict()
            assert (shown, page.message()) == ("1 0", "I see several digits: 1 0.")
            page.page.screenshot(path=str(ARTIFACTS / "e2e-several-digits.png"), full_page=True)
        finally:
            browser.close()
    store = Store(env["DATABASE_URL"], outbox_path=tmp_path / "test-outbox.sqlite3")
    assert [(r.verdict, r.digits, len(r.part_input_arrays())) for r in store.recent()] == [
        ("several_digits", [1, 0], 2),  # the picture of each digit is kept, for the History
        ("not_a_digit", [], 1),
    ]
