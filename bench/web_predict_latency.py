"""How long from the Predict click to the result on screen, in real Chromium?

Starts `digit-knower serve` on a temporary SQLite database, opens the page in Debian's Chromium,
and for a number of rounds draws a 1, a 0 and a 7 with the mouse, presses Predict and waits for
the new result. The time includes the browser, the websocket, the script rerun (predict, log,
history, stats) and the rendering. Prints the median and the 90th percentile. Goal: < 500 ms.

    .venv/bin/python bench/web_predict_latency.py --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from playwright.sync_api import sync_playwright
from tqdm import tqdm

from tests.support import servers
from tests.support.browser import ARTIFACTS, STROKES, DigitPage, launch_chromium


def measure(rounds: int) -> list[float]:
    seconds: list[float] = []
    with tempfile.TemporaryDirectory(prefix="dk-bench-") as tmp:
        env = {"DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "DIGIT_KNOWER_STATE_DIR": tmp}
        with servers.page(env, ARTIFACTS / "bench-serve.log") as server, sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = DigitPage(browser.new_page(viewport={"width": 1400, "height": 1000}), server.url)
                for _ in tqdm(range(rounds), desc="rounds", unit="round"):
                    for strokes in STROKES.values():
                        page.clear()
                        page.draw(strokes())
                        seconds.append(page.predict()[1])
            finally:
                browser.close()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds of three drawings (1, 0, 7)")
    args = parser.parse_args()
    seconds = measure(args.rounds)
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    print(
        f"Predict click -> result visible, {len(ms)} predictions: median {statistics.median(ms):.0f} ms, "
        f"p90 {p90:.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms (goal < 500 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
