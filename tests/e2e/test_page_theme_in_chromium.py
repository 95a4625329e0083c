"""End to end, in real Chromium: the page is light or dark as the visitor's system is, and its
answer is readable on both.

`digit-knower serve` fixes no theme base, so Streamlit follows the browser's
prefers-color-scheme (a primary colour set in [theme] alone would make a custom theme, light
whatever the system says). In each scheme a drawn 7 is read, and the page's own colours are measured
against the background the browser really paints: the big digit passes 3:1 (large text) and the
words under it 4.5:1 (WCAG 2.x contrast).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support import servers
from tests.support.browser import ARTIFACTS, STROKES, DigitPage, launch_chromium

pytestmark = pytest.mark.e2e

LARGE_TEXT_CONTRAST = 3.0
TEXT_CONTRAST = 4.5


# The colours the browser computed: the app's background, the big digit, the words under it,
# and Predict, a primary button.
COLOURS = """() => {
  const colour = (selector, property) => getComputedStyle(document.querySelector(selector))[property];
  return {
    background: colour('[data-testid="stApp"]', "backgroundColor"),
    digit: colour('[data-testid="dk-digit"]', "color"),
    message: colour('[data-testid="dk-message"]', "color"),
    accent: colour(".st-key-predict button", "backgroundColor"),
  };
}"""


def rgb(css: str) -> tuple[int, int, int]:
    """'rgb(79, 140, 255)' or an opaque 'rgba(...)' as three 0-255 channels."""
    channels = [float(value) for value in re.findall(r"[\d.]+", css)]
    assert len(channels) == 3 or channels[3] == 1, f"{css} is not opaque"
    red, green, blue = (round(value) for value in channels[:3])
    return red, green, blue


def luminance(colour: tuple[int, int, int]) -> float:
    """WCAG 2.x relative luminance."""
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in colour]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def answer_colours(browser: Browser, url: str, scheme: Literal["light", "dark"]) -> dict[str, str]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = DigitPage(context.new_page(), url)
        page.draw(STROKES[7]())
        assert page.predict()[0] == "7"
        page.page.screenshot(path=str(ARTIFACTS / f"e2e-theme-{scheme}.png"))
        return page.page.evaluate(COLOURS)
    finally:
        context.close()


def test_the_page_follows_the_systems_light_or_dark_and_its_answer_reads_on_both(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'e2e.sqlite3'}", "DIGIT_KNOWER_STATE_DIR": str(tmp_path)}
    with servers.page(env, ARTIFACTS / "e2e-serve-theme.log") as server, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            seen = {scheme: answer_colours(browser, server.url, scheme) for scheme in ("light", "dark")}
        finally:
            browser.close()
    light, dark = rgb(seen["light"]["background"]), rgb(seen["dark"]["background"])
    assert luminance(light) > 0.8 and luminance(dark) < 0.05, f"not the system's scheme: {seen}"
    for scheme, colours in seen.items():
        # serve's blue, #4f8cff, which Streamlit darkens to rgb(0, 89, 255) for a primary button's
        # fill; its default accent is red, rgb(138, 40, 50) light and rgb(158, 41, 53) dark.
        red, _, blue = rgb(colours["accent"])
        assert blue > 200 and red < 100, f"{scheme}: Predict is {colours['accent']}, not serve's blue"
        background = rgb(colours["background"])
        digit = contrast(rgb(colours["digit"]), background)
        message = contrast(rgb(colours["message"]), background)
        assert digit >= LARGE_TEXT_CONTRAST, f"{scheme}: the digit {colours['digit']} at {digit:.2f}:1"
        assert message >= TEXT_CONTRAST, f"{scheme}: the words {colours['message']} at {message:.2f}:1"
